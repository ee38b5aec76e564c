"""Shadow traffic at ingest: peekr.traffic=shadow (span or resource) or deployment.environment "shadow" makes the
trace shadow; peekr.request_key is kept on the trace; one shadow span is enough."""

import pytest

from tests.base import make_raw_span
from traces.models import Trace
from traces.normalize import normalize
from traces.services import spans_ingest

CASES = [
    ({"peekr.traffic": "shadow"}, {}, "shadow"),
    ({}, {"peekr.traffic": "SHADOW"}, "shadow"),
    ({}, {"deployment.environment": "shadow"}, "shadow"),
    ({}, {"deployment.environment.name": "shadow"}, "shadow"),
    ({"peekr.traffic": "production"}, {"deployment.environment": "production"}, ""),
    ({}, {}, ""),
]


@pytest.mark.parametrize(("attributes", "resource", "traffic"), CASES)
def test_the_normaliser_reads_shadow_traffic(attributes, resource, traffic):
    raw = make_raw_span(attributes={**attributes, "peekr.request_key": " req-42 "})
    raw.resource = {**raw.resource, **resource}
    norm = normalize(raw)
    assert norm.traffic == traffic and norm.request_key == "req-42"


@pytest.mark.django_db
def test_one_shadow_span_makes_the_trace_shadow_and_keeps_its_request_key(project):
    root = make_raw_span(name="answer", attributes={"peekr.request_key": "req-1"})
    child = make_raw_span(trace_id=root.trace_id, parent_span_id=root.span_id, attributes={"peekr.traffic": "shadow"})
    plain = make_raw_span(name="answer")
    spans_ingest(project=project, raws=[root, child, plain])
    shadow = Trace.objects.get(trace_id=root.trace_id)
    assert (shadow.traffic, shadow.request_key) == ("shadow", "req-1")
    assert Trace.objects.get(trace_id=plain.trace_id).traffic == "production"
