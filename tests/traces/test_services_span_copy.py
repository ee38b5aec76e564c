"""A batch of new spans is COPYed straight into the span table on PostgreSQL (traces.services.pg_copy_new); a
batch holding a span already stored, in part or whole, falls back to the upsert, so a retry never duplicates."""

from dataclasses import replace

import pytest
from django.db import connection

from tests.base import hex_id, llm_attributes, make_raw_span
from traces import services
from traces.models import Span, Trace
from traces.services import spans_ingest


def trace_spans(n_children: int = 3) -> list:
    tid = hex_id(16)
    root = make_raw_span(trace_id=tid, name="root", duration=2)
    return [root] + [
        make_raw_span(trace_id=tid, parent_span_id=root.span_id, name=f"chat {i}", attributes=llm_attributes())
        for i in range(n_children)
    ]


@pytest.mark.django_db
def test_a_batch_with_stored_and_new_spans_stores_each_once_with_the_latest_values(project):
    stored = trace_spans()
    spans_ingest(project=project, raws=stored)

    again = [replace(raw, name=f"{raw.name} v2") for raw in stored]
    new = trace_spans()
    spans_ingest(project=project, raws=again + new)

    names = sorted(Span.objects.filter(project=project).values_list("name", flat=True))
    assert names == sorted([r.name for r in again] + [r.name for r in new])
    assert Trace.objects.get(trace_id=stored[0].trace_id).span_count == 4
    assert Trace.objects.get(trace_id=new[0].trace_id).span_count == 4


@pytest.mark.django_db
def test_a_retried_batch_changes_nothing(project):
    raws = trace_spans()
    spans_ingest(project=project, raws=raws)
    before = list(Span.objects.filter(project=project).order_by("span_id").values_list("id", "span_id", "name"))

    spans_ingest(project=project, raws=raws)

    after = list(Span.objects.filter(project=project).order_by("span_id").values_list("id", "span_id", "name"))
    assert after == before
    assert Trace.objects.get(trace_id=raws[0].trace_id).span_count == 4


@pytest.mark.django_db
def test_new_spans_take_the_copy_and_a_re_send_the_upsert(project, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the direct COPY is PostgreSQL's")
    took = []
    copy_new = services.pg_copy_new
    monkeypatch.setattr(services, "pg_copy_new", lambda *a, **k: took.append(copy_new(*a, **k)) or took[-1])
    raws = trace_spans()

    spans_ingest(project=project, raws=raws)
    spans_ingest(project=project, raws=[replace(raws[-1], name="changed")])

    assert took == [True, False]
    assert Span.objects.get(span_id=raws[-1].span_id).name == "changed"
    assert Span.objects.filter(project=project).count() == 4
