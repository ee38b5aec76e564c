"""The derived signals with the real Celery worker process: ingest -> settle -> the signals stage."""

import secrets
import time

import pytest

from signals.models import Signal
from tests.otlp_payloads import pb_request, pb_span


def turn(client, key, *, session, text, start, children=()):
    trace_id = secrets.token_hex(16)
    root = pb_span(trace_id=trace_id, name="chat.turn", start=start, duration=2,
                   attributes={"session.id": session, "user.id": "w1", "input.value": text, "output.value": "ok"})  # fmt: skip
    spans = [root] + [pb_span(trace_id=trace_id, parent_span_id=root.span_id.hex(), start=start + 0.5, name=n)
                      for n in children]  # fmt: skip
    resp = client.post("/v1/traces", data=pb_request(spans).SerializeToString(),
                       content_type="application/x-protobuf", HTTP_AUTHORIZATION=f"Bearer {key}")  # fmt: skip
    assert resp.status_code == 200
    return trace_id


def wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.mark.worker
def test_the_worker_derives_rephrase_and_escalation_from_a_session(celery_worker_process, client, project, api_key):
    start = time.time() - 120
    first = turn(client, api_key, session="w-s", text="How do I change my billing address?", start=start)
    second = turn(client, api_key, session="w-s", text="how can I change my billing address", start=start + 40,
                  children=["handoff_to_human"])  # fmt: skip

    rephrase = wait_for(lambda: Signal.objects.filter(kind="rephrase").first(), 60, "the rephrase signal")
    assert rephrase.trace.trace_id == first and rephrase.evidence["traces"] == [first, second]
    escalation = wait_for(lambda: Signal.objects.filter(kind="escalation").first(), 30, "the escalation signal")
    assert escalation.trace.trace_id == second and escalation.evidence["pattern"] == "handoff*"
    assert Signal.objects.filter(kind="rephrase").count() == 1
