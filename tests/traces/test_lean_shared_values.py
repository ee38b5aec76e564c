"""What recurs across spans is stored once (traces.shared_values, through traces.lean): a tool schema, a request
body's skeleton, the rules taken go to one shared row a project, and the spans still read back exactly as sent."""

import importlib
import json

import pytest
from django.apps import apps
from django.db import connection, transaction

from tests.base import make_project, make_raw_span
from traces import lean, shared_values
from traces.models import SharedValue, Span
from traces.services import spans_ingest

SCHEMA = json.dumps({"type": "function", "function": {"name": "search_docs", "parameters": {"type": "object"}}})


def chat_attributes(question: str, answer: str) -> dict:
    """An LLM span as openinference-instrumentation-openai sends it: constants around this call's own texts."""
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": question}], "tools": [json.loads(SCHEMA)]}
    response = {
        "id": f"chatcmpl-{abs(hash(question)):020d}",
        "choices": [{"index": 0, "message": {"content": answer, "refusal": None, "role": "assistant"}}],
        "model": "gpt-4o-mini-2024-07-18",
    }
    return {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini-2024-07-18",
        "llm.invocation_parameters": json.dumps({"model": "gpt-4o-mini", "temperature": 0.2}),
        "llm.tools.0.tool.json_schema": SCHEMA,
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": question,
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": answer,
        "input.value": json.dumps(body),
        "input.mime_type": "application/json",
        "output.value": json.dumps(response, separators=(",", ":")),
        "output.mime_type": "application/json",
    }


SENT = [
    chat_attributes(f"Question number {i}: which plan has offline notebooks?", f"Answer {i}: the team plan, since May.")
    for i in range(6)
]


def ingest(project, sent: list[dict]) -> list[Span]:
    raws = [make_raw_span(name="ChatCompletion", attributes=a) for a in sent]
    spans_ingest(project=project, raws=raws)
    by_id = {s.span_id: s for s in Span.objects.filter(project=project, span_id__in=[r.span_id for r in raws])}
    return [by_id[r.span_id] for r in raws]


@pytest.mark.django_db
def test_what_recurs_is_stored_once_and_every_span_reads_back_exactly(settings):
    settings.PEEKR_LEAN_STORAGE = True
    project = make_project()[0]
    spans = ingest(project, SENT)

    for span, sent in zip(spans, SENT, strict=True):
        assert lean.raw_attributes(span) == sent
    later = [span for span in spans if span.lean.get("s")]  # from its third occurrence on, an item is shared
    assert len(later) == len(SENT) - shared_values.SHARE_AFTER + 1
    assert {span.lean["s"] for span in later} == set(SharedValue.objects.values_list("digest", flat=True))
    for span in later:
        assert "llm.tools.0.tool.json_schema" not in span.attributes
        assert "llm.invocation_parameters" not in span.attributes
        assert "input.value" not in span.lean.get("a", {})  # the body's skeleton is shared too
    first = [span for span in spans if not span.lean.get("s")]
    assert all("llm.tools.0.tool.json_schema" in span.attributes for span in first)  # kept until it recurs
    # What is this call's own stays the span's own: the response body is a template naming its texts, shared as a
    # skeleton once it recurs, its id (a hole) kept in the record.
    assert all("output.value" in span.lean["a"] for span in first)
    for span in later:
        assert "output.value" not in span.lean.get("a", {})
        assert span.lean["h"]["output.value"].startswith("chatcmpl-")


@pytest.mark.django_db
def test_shared_rows_belong_to_their_project(settings):
    settings.PEEKR_LEAN_STORAGE = True
    first, second = make_project(name="first")[0], make_project(name="second")[0]
    ingest(first, SENT[:3])
    spans = ingest(second, SENT[3:])

    assert SharedValue.objects.filter(project=first).count() == 1
    assert SharedValue.objects.filter(project=second).count() == 1
    assert lean.raw_attributes(spans[-1]) == SENT[-1]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_shared_row_is_written_again_for_later_spans(settings):
    settings.PEEKR_LEAN_STORAGE = True
    project = make_project()[0]
    with pytest.raises(RuntimeError), transaction.atomic():
        ingest(project, SENT[:3])
        assert SharedValue.objects.count() == 1
        raise RuntimeError
    assert not SharedValue.objects.exists()

    spans = ingest(project, SENT[3:])
    assert SharedValue.objects.count() == 1
    shared_values.forget()  # read as another process would: from the rows
    for span, sent in zip(spans, SENT[3:], strict=True):
        assert span.lean.get("s")
        assert lean.raw_attributes(span) == sent


@pytest.mark.django_db(transaction=True)
def test_the_migration_shares_stored_rows_in_batches_and_back(settings):
    migration = importlib.import_module("traces.migrations.0017_storage")
    settings.PEEKR_LEAN_STORAGE = True
    project = make_project()[0]
    spans = ingest(project, SENT[:2]) + ingest(make_project(name="other")[0], SENT[2:4])
    spans += ingest(project, SENT[4:])
    assert not any(span.lean.get("s") for span in spans[:4])
    before = {s.pk: lean.raw_attributes(s) for s in spans}

    shared_values.forget()
    migration.BATCH, batch = 2, migration.BATCH  # several batches
    try:
        with connection.schema_editor() as editor:
            migration.forwards(apps, editor)
            after = {s.pk: (s.attributes, s.lean) for s in Span.objects.all()}
            shared_values.forget()
            migration.forwards(apps, editor)  # again, from the same counts: nothing changes
    finally:
        migration.BATCH = batch

    stored = list(Span.objects.all())
    assert {s.pk: (s.attributes, s.lean) for s in stored} == after
    mine = [s for s in stored if s.project_id == project.pk]
    assert sum(1 for s in mine if s.lean.get("s")) == len(mine) - shared_values.SHARE_AFTER + 1
    assert all(lean.raw_attributes(s) == before[s.pk] for s in stored)

    with connection.schema_editor() as editor:
        migration.backwards(apps, editor)
    stored = list(Span.objects.all())
    assert not any(s.lean.get("s") for s in stored)
    assert all(lean.raw_attributes(s) == before[s.pk] for s in stored)
