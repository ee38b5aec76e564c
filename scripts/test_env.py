"""Run a command with the test environment: its own data folder, so tests never touch ./var's demo data."""

import os
import shutil
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
data = Path(os.environ.get("PEEKR_TEST_DATA_DIR", root / "var" / "test"))
shutil.rmtree(data, ignore_errors=True)  # a fresh broker folder and test database every run
data.mkdir(parents=True)
os.environ["PEEKR_DATA_DIR"] = str(data)
os.environ.setdefault("PEEKR_TRACE_QUIET_SECONDS", "1")
# Test judges listen on 127.0.0.1: projects' judge connections may reach it (tests of the refusal turn it off).
os.environ.setdefault("PEEKR_JUDGE_ALLOW_PRIVATE", "1")
os.environ.setdefault("PEEKR_WEBHOOK_ALLOW_PRIVATE", "1")  # the tests' webhook receivers listen on 127.0.0.1
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.execvp(sys.argv[1], sys.argv[1:])
