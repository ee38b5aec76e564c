"""Shadow traffic end to end through the real receiver and a real worker: shadow answers are evaluated with the
full suite, never routed to review, rolled up only under "shadow_release" (never in "all" or "release", which
monitors read), and compared with production through the API; a shadow evaluator's scores reach no rollup."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from annotations.models import QueueItem
from annotations.services import queue_create, routing_rule_create
from evals.models import Score
from evals.modes import rule_mode_set
from evals.services import rules_for_project
from metrics.models import Deploy, Rollup, RollupPending, TraceContribution
from tests.base import make_blocking, make_project
from tests.releases.traffic import AppSender
from traces.models import Trace
from traces.pipeline import all_stages_mask

pytestmark = [pytest.mark.worker]


def _wait_for(predicate, timeout: float, what: str, log_path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}\n{log_path.read_text()[-4000:]}")


@pytest.mark.django_db(transaction=True)
def test_shadow_answers_are_evaluated_kept_out_of_review_and_monitors_and_compared(client, celery_worker_process):
    project, key = make_project("shadow")
    make_blocking(project, "json_valid")
    builtin = next(r for r in rules_for_project(project=project) if r.is_builtin)
    rule_mode_set(rule=builtin, mode="shadow", evaluator="non_empty", actor="tests")  # a shadow evaluator
    queue = queue_create(project=project, name="Everything")
    routing_rule_create(queue=queue, kind="sample", params={"rate": 1.0})

    start = timezone.now() - timedelta(hours=2)
    sender = AppSender()
    for i in range(40):
        at = start + timedelta(seconds=30 * i)
        sender.answer(at=at, release="1.0", faithfulness=0.85, request_key=f"req-{i}")
        sender.answer(at=at + timedelta(seconds=1), release="2.0", faithfulness=0.8, shadow=True,
                      request_key=f"req-{i}", broken_json=i % 10 == 0)  # fmt: skip
    sender.post(client, key)
    total = Trace.objects.count()
    assert total == 80
    log = celery_worker_process.log_path
    _wait_for(lambda: Trace.objects.filter(processed_at__isnull=False).count() == total, 180, "the pipeline", log)
    _wait_for(lambda: TraceContribution.objects.count() == total and not RollupPending.objects.exists(), 60,
              "the rollups", log)  # fmt: skip

    shadow = Trace.objects.filter(project=project, traffic="shadow")
    assert shadow.count() == 40 and set(shadow.values_list("release", flat=True)) == {"2.0"}
    assert set(Trace.objects.filter(traffic="production").values_list("release", flat=True)) == {"1.0"}
    assert Trace.objects.get(release="2.0", request_key="req-7").traffic == "shadow"
    assert set(shadow.values_list("stages_done", flat=True)) == {all_stages_mask()}
    # Evaluated with the full suite...
    assert Score.objects.filter(trace__in=shadow, evaluator="json_valid", passed=False).count() == 4
    assert Score.objects.filter(trace__in=shadow, evaluator="json_valid").count() == 40
    # ...never routed to review (production traces are, by the same rule).
    assert QueueItem.objects.filter(trace__traffic="production").count() == 40
    assert not QueueItem.objects.filter(trace__traffic="shadow").exists()
    # Rolled up apart: "all", "release" and every other dimension hold production only.
    traces_by_dim: dict[str, int] = {}
    for dim, value, n in Rollup.objects.filter(project=project).values_list("dim", "value", "traces"):
        traces_by_dim[dim] = traces_by_dim.get(dim, 0) + n
        if dim.removeprefix("d:") == "release":
            assert value == "1.0"
        if dim.removeprefix("d:") == "shadow_release":
            assert value == "2.0"
    assert traces_by_dim["all"] == traces_by_dim["d:all"] == traces_by_dim["release"] == 40
    assert traces_by_dim["shadow_release"] == traces_by_dim["d:shadow_release"] == 40
    assert not Deploy.objects.filter(project=project, version="2.0").exists()  # shadow is not a deploy
    # The shadow evaluator scored (apart), and its scores reach no rollup: no monitor can see them.
    assert Score.objects.filter(evaluator="non_empty", mode="shadow").count() == 80
    assert not any(k.endswith(":non_empty") for data in Rollup.objects.values_list("data", flat=True) for k in data)

    resp = client.get(
        "/api/v1/releases/compare?baseline=1.0&candidate=2.0&window=24h", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["candidate"] == {"version": "2.0", "traffic": "shadow", "traces": 40, "share": None}
    assert body["baseline"] == {"version": "1.0", "traffic": "production", "traces": 40, "share": 1.0}
    assert body["verdict"]["status"] == "fail"
    failed = [c for c in body["verdict"]["checks"] if c["status"] == "fail"]
    assert [c["evaluator"] for c in failed] == ["json_valid"]  # the built-in rule's other checks pass or n/a
    (check,) = failed
    assert "4 of 40" in check["reason"]
    broken = set(Score.objects.filter(trace__in=shadow, evaluator="json_valid", passed=False)
                 .values_list("trace__trace_id", flat=True))  # fmt: skip
    assert {e["trace_id"] for e in check["examples"]} == broken
    rows = {r["key"]: r for r in body["rows"]}
    assert rows["pass:json_valid"]["baseline"] == 1.0 and rows["pass:json_valid"]["candidate"] == 0.9
    assert rows["pass:json_valid"]["blocking"] is True
