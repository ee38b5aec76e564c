"""Each piece of span content stored once (traces.lean): the attributes keep only what normalisation did not take,
and raw_attributes / raw_events give back exactly what was stored before (after redaction)."""

import importlib

import pytest
from django.apps import apps
from django.db import connection

from tests.base import make_project, make_raw_span
from tests.traces.fixtures import raw_spans, trace_fixtures
from traces import lean
from traces.models import Span
from traces.services import spans_ingest

FIXTURES = trace_fixtures()


# One capture per convention (the round trip below runs over every capture).
CONVENTIONS = {
    "openinference__tool_call": "llm.input_messages.0.message.content",
    "openinference__rag": "retrieval.documents.0.document.content",
    "genai-v2__tool_call": "gen_ai.input.messages",
    "traceloop__chat": "gen_ai.input.messages",
    "traceloop-legacy__chat": "gen_ai.prompt.0.content",
    "traceloop-sdk__workflow": "traceloop.entity.output",
    "langfuse-sdk__observations": "langfuse.observation.input",
}


def stored(project, name: str, encoding: str = "pb") -> dict[str, Span]:
    spans_ingest(project=project, raws=raw_spans(name, encoding))
    return {s.span_id: s for s in Span.objects.filter(project=project)}


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["pb", "json"])
@pytest.mark.parametrize("name", FIXTURES)
def test_every_capture_reads_back_exactly_as_stored_before(name, encoding, settings):
    project = make_project()[0]  # one project: the same redaction (user ids are hashed with its secret)
    settings.PEEKR_LEAN_STORAGE = False
    whole = stored(project, name, encoding)
    settings.PEEKR_LEAN_STORAGE = True
    lean_spans = stored(project, name, encoding)  # sent again: the same rows, now lean

    assert whole.keys() == lean_spans.keys()
    for span_id, before in whole.items():
        span = lean_spans[span_id]
        assert lean.raw_attributes(span) == before.attributes
        assert lean.raw_events(span) == before.events
        assert before.lean is None  # off: stored whole, read as stored
        assert lean.raw_attributes(before) == before.attributes


@pytest.mark.django_db
@pytest.mark.parametrize("name,taken", sorted(CONVENTIONS.items()))
def test_each_convention_leaves_its_content_out_of_the_attributes(name, taken, settings):
    settings.PEEKR_LEAN_STORAGE = True
    spans = stored(make_project()[0], name).values()

    holders = [s for s in spans if taken in lean.raw_attributes(s)]
    assert holders, f"no span of {name} carries {taken}"
    assert any(taken not in span.attributes and span.lean for span in holders)  # short values may stay
    assert sum(len(str(s.attributes)) for s in spans) < sum(len(str(lean.raw_attributes(s))) for s in spans)


@pytest.mark.django_db
def test_a_key_the_normalised_fields_cannot_rebuild_exactly_is_kept(settings):
    settings.PEEKR_LEAN_STORAGE = True
    long_tool = "lookup_" + "x" * 250  # the tool_name column keeps 200 characters
    attributes = {
        "openinference.span.kind": "TOOL",
        "tool.name": long_tool,
        "llm.token_count.prompt": "85",  # a string: the column holds the integer 85
        "llm.token_count.completion": 17,  # an integer: rebuilt exactly
        "input.value": '{"city": "Paris and its suburbs"}',
        "output.value": "sunny, 22 C in Paris and all around it",
    }
    raw = make_raw_span(name="get_weather", attributes=attributes)
    spans_ingest(project=make_project()[0], raws=[raw])
    span = Span.objects.get(span_id=raw.span_id)

    assert span.tool_name == long_tool[:200]
    assert span.attributes["tool.name"] == long_tool
    assert span.attributes["llm.token_count.prompt"] == "85"
    assert "llm.token_count.completion" not in span.attributes
    assert "output.value" not in span.attributes and "input.value" not in span.attributes
    assert lean.raw_attributes(span) == attributes


@pytest.mark.django_db
def test_a_text_inside_a_longer_value_is_kept_as_a_template_and_comes_back_exactly(settings):
    settings.PEEKR_LEAN_STORAGE = True
    question = 'Which "plan" includes offline notebooks — and the export to PDF?'
    body = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": %s}], "stream": false}'
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": question,
        "input.value": body % ('"' + question.replace('"', '\\"').replace("—", "\\u2014") + '"'),
        "input.mime_type": "application/json",
        "peekr.feedback.comment": f"about: {question}",  # read by signals: never taken
    }
    raw = make_raw_span(name="ChatCompletion", attributes=attributes)
    spans_ingest(project=make_project()[0], raws=[raw])
    span = Span.objects.get(span_id=raw.span_id)

    assert set(span.attributes) == {"openinference.span.kind", "input.mime_type", "peekr.feedback.comment"}
    assert "input.value" in span.lean["a"]
    assert lean.raw_attributes(span) == attributes


@pytest.mark.django_db
def test_expired_content_reads_back_without_what_it_held(settings):
    from traces import retention

    settings.PEEKR_LEAN_STORAGE = True
    project = make_project()[0]
    spans = stored(project, "openinference__tool_call")
    Span.objects.filter(project=project).update(
        **retention.CONTENT_CLEARED, attributes={"peekr.content_expired_at": "x"}
    )

    for span in Span.objects.filter(span_id__in=spans):
        assert span.lean is None
        assert lean.raw_attributes(span) == {"peekr.content_expired_at": "x"}


@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_stored_rows_in_batches_and_back(settings):
    migration = importlib.import_module("traces.migrations.0014_lean_storage")
    settings.PEEKR_LEAN_STORAGE = False
    project = make_project()[0]
    for name in ("openinference__rag", "genai-v2__tool_call", "traceloop-legacy__tool_call"):
        stored(project, name)
    before = {s.pk: (s.attributes, s.events) for s in Span.objects.all()}
    assert all(s.lean is None for s in Span.objects.all())

    migration.BATCH, batch = 3, migration.BATCH  # several batches
    try:
        with connection.schema_editor() as editor:
            migration.forwards(apps, editor)
            after = {s.pk: (s.attributes, s.lean) for s in Span.objects.all()}
            migration.forwards(apps, editor)  # again: nothing changes
    finally:
        migration.BATCH = batch

    spans = list(Span.objects.all())
    assert {s.pk: (s.attributes, s.lean) for s in spans} == after
    assert sum(1 for s in spans if s.lean) >= len(spans) // 2
    for span in spans:
        assert (lean.raw_attributes(span), lean.raw_events(span)) == before[span.pk]
        if span.lean:
            assert len(str(span.attributes)) < len(str(before[span.pk][0]))

    with connection.schema_editor() as editor:
        migration.backwards(apps, editor)
    assert {s.pk: (s.attributes, s.events) for s in Span.objects.all()} == before
    assert not Span.objects.filter(lean__isnull=False).exists()
