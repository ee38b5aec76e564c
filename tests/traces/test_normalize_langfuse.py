"""Langfuse has no captured fixture: these spans use the attribute names of langfuse-python's
``LangfuseOtelSpanAttributes`` (langfuse/_client/attributes.py), which JSON-serialises non-string values."""

import json
from datetime import UTC, datetime

import pytest

from traces.normalize import normalize
from traces.normalize.types import RawSpan

START_NS = 1_795_315_283_000_000_000
FIRST_TOKEN_AT = datetime.fromtimestamp(START_NS / 1e9 + 0.25, UTC).isoformat()  # 250 ms after the start


def raw(attributes, **kw) -> RawSpan:
    fields = {
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "eee19b7ec3c1b174",
        "name": "generate-answer",
        "start_ns": START_NS,
        "end_ns": START_NS + 2_000_000_000,
        "attributes": attributes,
        "scope_name": "langfuse-sdk",
    }
    fields.update(kw)
    return RawSpan(**fields)


def generation(**extra):
    attributes = {
        "langfuse.observation.type": "generation",
        "langfuse.observation.model.name": "gpt-4o-mini",
        "langfuse.observation.input": json.dumps(
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}]
        ),
        "langfuse.observation.output": json.dumps({"role": "assistant", "content": "Paris."}),
        "langfuse.observation.usage_details": json.dumps({"input": 42, "output": 17, "total": 59}),
        "langfuse.observation.cost_details": json.dumps({"input": 0.001, "output": 0.002, "total": 0.003}),
        "langfuse.observation.prompt.name": "qa",
        "langfuse.observation.prompt.version": 3,
        "langfuse.observation.completion_start_time": json.dumps(FIRST_TOKEN_AT),
        "session.id": "sess-9",
        "user.id": "user-4",
    }
    attributes.update(extra)
    return raw(attributes)


def test_a_generation():
    span = normalize(generation())

    assert span.kind == "llm"
    assert span.model == "gpt-4o-mini"
    assert span.input_messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert span.output_messages == [{"role": "assistant", "content": "Paris."}]
    assert (span.input_text, span.output_text) == ("Capital of France?", "Paris.")
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (42, 17, 59)
    assert span.prompt_version == "3"
    assert (span.session_id, span.user_id) == ("sess-9", "user-4")
    assert span.ttft_ms == pytest.approx(250.0)
    assert span.conventions == ["langfuse"]


def test_the_cost_langfuse_sent_is_kept():
    assert normalize(generation()).cost == pytest.approx(0.003)
    no_total = generation(**{"langfuse.observation.cost_details": json.dumps({"input": 0.25, "output": 0.5})})
    assert normalize(no_total).cost == pytest.approx(0.75)


def test_without_cost_details_the_cost_comes_from_the_price_table():
    span = normalize(generation(**{"langfuse.observation.cost_details": None}))
    assert span.cost == pytest.approx((42 * 0.15 + 17 * 0.60) / 1e6)


@pytest.mark.parametrize(
    "observation_type, kind",
    [
        ("generation", "llm"),
        ("span", "span"),
        ("event", "span"),
        ("agent", "agent"),
        ("tool", "tool"),
        ("chain", "chain"),
        ("retriever", "retriever"),
        ("embedding", "embedding"),
        ("evaluator", "evaluator"),
        ("guardrail", "guardrail"),
    ],
)
def test_the_observation_type_gives_the_kind(observation_type, kind):
    assert normalize(raw({"langfuse.observation.type": observation_type})).kind == kind


def test_level_error_is_an_error_with_its_status_message():
    span = normalize(
        raw(
            {
                "langfuse.observation.type": "tool",
                "langfuse.observation.level": "ERROR",
                "langfuse.observation.status_message": "search index unavailable",
            }
        )
    )

    assert span.status == "error"
    assert span.error == "search index unavailable"


def test_level_warning_is_not_an_error():
    span = normalize(raw({"langfuse.observation.type": "span", "langfuse.observation.level": "WARNING"}))
    assert span.status == "unset"


def test_the_langfuse_prefixed_session_and_user_win():
    span = normalize(
        raw(
            {
                "langfuse.session.id": "lf-session",
                "session.id": "otel-session",
                "langfuse.user.id": "lf-user",
                "user.id": "otel-user",
            }
        )
    )

    assert (span.session_id, span.user_id) == ("lf-session", "lf-user")


def test_release_from_langfuse_release_then_version_then_service_version():
    resource = {"service.name": "api", "service.version": "2.0.1"}

    both = normalize(raw({"langfuse.release": "r-42", "langfuse.version": "v3"}, resource=resource))
    version = normalize(raw({"langfuse.version": "v3"}, resource=resource))
    neither = normalize(raw({"langfuse.observation.type": "span"}, resource=resource))

    assert (both.release, version.release, neither.release) == ("r-42", "v3", "2.0.1")
    assert both.service_name == "api"


def test_text_input_and_output_stay_text():
    span = normalize(
        raw(
            {
                "langfuse.observation.type": "span",
                "langfuse.observation.input": "plain question",
                "langfuse.observation.output": json.dumps({"answer": 42}),
            }
        )
    )

    assert span.input_text == "plain question"
    assert span.output_text == '{"answer": 42}'
    assert span.input_messages == [] and span.output_messages == []


def test_a_root_span_reads_the_trace_input_and_output():
    span = normalize(
        raw(
            {
                "langfuse.trace.name": "qa-flow",
                "langfuse.trace.input": json.dumps("what is 2+2?"),
                "langfuse.trace.output": json.dumps("4"),
            }
        )
    )

    assert (span.input_text, span.output_text) == ("what is 2+2?", "4")


def test_langfuse_attributes_win_over_genai_ones():
    span = normalize(
        raw(
            {
                "langfuse.observation.type": "generation",
                "langfuse.observation.model.name": "gpt-4.1-mini",
                "gen_ai.request.model": "gpt-4.1",
                "gen_ai.operation.name": "chat",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 1000,
            }
        )
    )

    assert span.model == "gpt-4.1-mini"
    assert (span.input_tokens, span.output_tokens) == (1000, 1000)  # filled in by genai
    assert span.conventions == ["langfuse", "genai"]
    assert span.cost == pytest.approx((1000 * 0.40 + 1000 * 1.60) / 1e6)
