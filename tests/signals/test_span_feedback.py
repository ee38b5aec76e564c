"""Feedback and escalation carried by spans, sent through the real OTLP receiver and read by the signals stage."""

import secrets
import time

import pytest
from django.utils import timezone
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from signals.models import Signal
from tests.otlp_payloads import any_value, pb_request, pb_span
from traces.models import Trace
from traces.pipeline import pipeline_run


@pytest.mark.django_db
def test_span_attributes_and_events_become_signals(client, project, api_key):
    trace_id, start = secrets.token_hex(16), time.time() - 120
    root = pb_span(trace_id=trace_id, name="support.chat", start=start, duration=3,
                   attributes={"session.id": "s9", "user.id": "u9", "output.value": "Restart the router.",
                               "peekr.feedback.kind": "rating", "peekr.feedback.value": 2})  # fmt: skip
    event = root.events.add(name="peekr.feedback", time_unix_nano=int((start + 2) * 1e9))
    for k, v in {"peekr.feedback.kind": "edit", "peekr.feedback.edited_output": "Restart the modem."}.items():
        event.attributes.append(KeyValue(key=k, value=any_value(v)))
    handoff = pb_span(trace_id=trace_id, parent_span_id=root.span_id.hex(), name="transfer_to_agent", start=start + 1)
    flagged = pb_span(trace_id=trace_id, parent_span_id=root.span_id.hex(), name="step", start=start + 1.5,
                      attributes={"peekr.escalation": True})  # fmt: skip
    resp = client.post("/v1/traces", data=pb_request([root, handoff, flagged]).SerializeToString(),
                       content_type="application/x-protobuf", HTTP_AUTHORIZATION=f"Bearer {api_key}")  # fmt: skip
    assert resp.status_code == 200
    trace = Trace.objects.get(trace_id=trace_id)
    Trace.objects.filter(pk=trace.pk).update(completed_at=timezone.now())

    pipeline_run(trace_pks=[trace.pk])
    pipeline_run(trace_pks=[trace.pk])  # idempotent

    rows = {(s.kind, s.source): s for s in Signal.objects.filter(trace=trace)}
    assert set(rows) == {("rating", "span"), ("edit", "span"), ("escalation", "derived")}
    assert Signal.objects.filter(kind="escalation").count() == 2  # one per hand-off span
    assert rows[("rating", "span")].value == 0.25 and rows[("rating", "span")].session_id == "s9"
    from rapidfuzz.distance import Levenshtein

    expected = Levenshtein.normalized_distance("Restart the router.", "Restart the modem.")
    assert rows[("edit", "span")].value == pytest.approx(expected)
