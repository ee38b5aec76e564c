"""The Django secret key a laptop install generates into PEEKR_DATA_DIR is owner-only (0600), made once even when
several processes start together, and an older world-readable one is tightened, not replaced."""

import stat
import subprocess
import sys
from pathlib import Path

from tests.web.test_production_settings import ROOT, clean_env

PRINT_KEY = "import peekr_web.settings as s; print(s.SECRET_KEY)"


def start(tmp_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PRINT_KEY], env=clean_env(tmp_path), cwd=ROOT, stdout=subprocess.PIPE, text=True
    )


def test_the_generated_key_is_owner_only_and_the_same_for_processes_starting_together(tmp_path):
    procs = [start(tmp_path) for _ in range(4)]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}

    key_file = tmp_path / "secret_key"
    assert keys == {key_file.read_text()}
    assert len(key_file.read_text()) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_older_world_readable_key_is_kept_and_made_owner_only(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("an-older-key-" + "x" * 50)
    key_file.chmod(0o644)

    printed = start(tmp_path).communicate(timeout=60)[0].strip()

    assert printed == "an-older-key-" + "x" * 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
