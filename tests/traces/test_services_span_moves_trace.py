"""A span re-sent under another trace id moves, and both traces' aggregates follow it.

Moving (not rejecting) is the choice: a client that fixes a wrong trace id (a lost context, a re-parented retry)
sends the same span id again, and the later copy wins, as it does for every re-send.
"""

from dataclasses import replace

import pytest

from tests.base import hex_id, llm_attributes, make_raw_span
from traces.models import Span, Trace
from traces.services import spans_ingest


@pytest.mark.django_db
def test_a_span_resent_under_another_trace_moves_and_both_aggregates_follow(project):
    old_tid, new_tid = hex_id(16), hex_id(16)
    root = make_raw_span(trace_id=old_tid, name="root", duration=3)
    llm = make_raw_span(
        trace_id=old_tid, parent_span_id=root.span_id, name="chat", attributes=llm_attributes(inp=40, out=10)
    )
    spans_ingest(project=project, raws=[root, llm])
    assert Trace.objects.get(trace_id=old_tid).total_tokens == 50

    # A re-send keeps its start time (on PostgreSQL it is in the span's key: tests/traces/test_retention_span_restart.py)
    moved = replace(llm, trace_id=new_tid, parent_span_id=None, attributes=llm_attributes(model="gpt-4o", inp=7, out=3))
    spans_ingest(project=project, raws=[moved])

    old, new = Trace.objects.get(trace_id=old_tid), Trace.objects.get(trace_id=new_tid)
    assert Span.objects.get(span_id=llm.span_id).trace_id == new.pk
    assert (old.span_count, old.total_tokens, old.models_used) == (1, 0, "")
    assert (new.span_count, new.total_tokens, new.models_used) == (1, 10, "gpt-4o")


@pytest.mark.django_db
def test_a_trace_whose_only_span_moved_away_has_empty_aggregates(project):
    old_tid, new_tid = hex_id(16), hex_id(16)
    span = make_raw_span(trace_id=old_tid, name="chat", attributes=llm_attributes(inp=40, out=10), status_code=2)
    spans_ingest(project=project, raws=[span])

    spans_ingest(project=project, raws=[replace(span, trace_id=new_tid, attributes={}, status_code=0)])

    old = Trace.objects.get(trace_id=old_tid)
    assert (old.span_count, old.error_count, old.total_tokens, old.cost, old.status) == (0, 0, 0, 0.0, "ok")
    assert old.name == "" and old.root_span_id == ""
    assert Trace.objects.get(trace_id=new_tid).span_count == 1
