"""A span's raw attributes reach the rules built on first read (evals.evaluators.types.LazyAttributes): a batch
whose rules never read them never rebuilds them, and a rule that reads them sees exactly what was sent."""

import pytest

from evals import services
from evals.evaluators.types import LazyAttributes
from tests.base import make_trace
from traces.models import Span


def test_it_loads_once_and_only_when_read():
    loads = []
    attrs = LazyAttributes(lambda: loads.append(1) or {"output.mime_type": "application/json"})
    assert isinstance(attrs, dict) and loads == []
    assert attrs.get("output.mime_type") == "application/json" and "output.mime_type" in attrs
    assert dict(attrs.items()) == {"output.mime_type": "application/json"} and len(attrs) == 1
    assert loads == [1]
    empty = LazyAttributes(dict)
    assert not empty and empty == {}


@pytest.mark.django_db
def test_targets_carry_the_raw_attributes_as_sent(project):
    trace_id, raws = make_trace(project, n_llm=1, attributes={"output.mime_type": "application/json"})
    spans = list(Span.objects.filter(trace__trace_id=trace_id))
    span_targets, _ = services.build_targets(spans)
    root = next(t for t in span_targets if t.span_id == raws[0].span_id)
    assert isinstance(root.attributes, LazyAttributes)
    assert root.attributes.get("output.mime_type") == "application/json"
    llm = next(t for t in span_targets if t.kind == "llm")
    assert llm.attributes.get("gen_ai.request.model") == "gpt-4o-mini"
