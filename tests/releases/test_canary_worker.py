"""Canary verdicts end to end: a simulated app's two releases through the real OTLP receiver (the OpenTelemetry
SDK's encoder), a real Celery worker running the pipeline (evaluation with the built-in rules, rollups), then
`manage.py peekr_canary` run as a deploy pipeline runs it: exit 1 on 2 % broken JSON with a JUnit failure naming
json_valid and linking the broken traces, 3 on a slightly worse judge score with too few traces, 0 when clean."""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from evals.models import Score
from metrics.models import RollupPending, TraceContribution
from tests.base import make_blocking, make_project
from tests.releases.traffic import AppSender
from traces.models import Trace

pytestmark = [pytest.mark.worker]


def _wait_for(predicate, timeout: float, what: str, log_path=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    tail = log_path.read_text()[-4000:] if log_path and log_path.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def _send(client, key, plan, start) -> None:
    """plan: [(release, n, faithfulness mean, broken every k-th or 0)], spread over the last hours."""
    sender = AppSender()
    for release, n, mean, broken_every in plan:
        for i in range(n):
            sender.answer(at=start + timedelta(seconds=20 * i + 7), release=release,
                          faithfulness=mean + (0.05 if i % 2 else -0.05),
                          broken_json=bool(broken_every) and i % broken_every == broken_every - 1)  # fmt: skip
    sender.post(client, key)


def _canary(env, project, candidate, junit: Path) -> subprocess.CompletedProcess:
    argv = [sys.executable, "manage.py", "peekr_canary", "--project", project.name, "--baseline", "1.0",
            "--candidate", candidate, "--window", "24h", "--junit", str(junit)]  # fmt: skip
    return subprocess.run(argv, env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120)


@pytest.mark.django_db(transaction=True)
def test_the_canary_fails_on_broken_json_waits_on_too_few_judged_traces_and_passes_a_clean_release(
    client, celery_worker_process, subprocess_env, tmp_path
):
    start = timezone.now() - timedelta(hours=3)
    broken, broken_key = make_project("canary-json")
    few, few_key = make_project("canary-few")
    clean, clean_key = make_project("canary-clean")
    make_blocking(broken, "json_valid")
    make_blocking(few, "faithfulness")
    make_blocking(clean, "json_valid")
    make_blocking(clean, "faithfulness")

    _send(client, broken_key, [("1.0", 200, 0.85, 0), ("1.1", 200, 0.85, 50)], start)  # 4 of 200 broken: 2 %
    _send(client, few_key, [("1.0", 60, 0.85, 0), ("1.1", 20, 0.82, 0)], start)
    _send(client, clean_key, [("1.0", 100, 0.85, 0), ("1.1", 100, 0.85, 0)], start)
    total = Trace.objects.count()
    assert total == 680

    log = celery_worker_process.log_path
    _wait_for(lambda: Trace.objects.filter(processed_at__isnull=False).count() == total, 240, "the pipeline", log)
    _wait_for(lambda: TraceContribution.objects.count() == total and not RollupPending.objects.exists(), 60,
              "the rollups", log)  # fmt: skip

    junit = tmp_path / "broken.xml"
    run = _canary(subprocess_env, broken, "1.1", junit)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "[fail] json_valid (deterministic): 4 of 200 scored answers failed json_valid" in run.stdout
    assert "verdict: FAIL" in run.stdout
    suite = ET.parse(junit).getroot()
    assert suite.get("failures") == "1"
    failure = suite.find("testcase[@name='json_valid']/failure")
    assert failure is not None and "json_valid" in failure.get("message")
    broken_ids = set(
        Score.objects.filter(project=broken, evaluator="json_valid", passed=False).values_list(
            "trace__trace_id", flat=True
        )
    )
    assert len(broken_ids) == 4
    linked = {line.split()[0] for line in failure.text.split("example traces:\n")[1].splitlines()}
    assert linked == broken_ids
    assert all(f"/p/{broken.pk}/traces/{t}" in failure.text for t in broken_ids)

    run = _canary(subprocess_env, few, "1.1", tmp_path / "few.xml")
    assert run.returncode == 3, run.stdout + run.stderr
    assert "[not_enough_data] faithfulness (semantic)" in run.stdout
    assert "10 more candidate traces needed" in run.stdout
    assert ET.parse(tmp_path / "few.xml").getroot().find("testcase[@name='faithfulness']/skipped") is not None

    run = _canary(subprocess_env, clean, "1.1", tmp_path / "clean.xml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[pass] json_valid" in run.stdout and "[pass] faithfulness" in run.stdout
    assert ET.parse(tmp_path / "clean.xml").getroot().get("failures") == "0"

    run = _canary(subprocess_env, clean, "9.9", tmp_path / "unknown.xml")
    assert run.returncode == 2 and "versions: 1.0, 1.1" in run.stderr
