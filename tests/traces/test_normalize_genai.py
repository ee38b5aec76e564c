import json

import pytest

from tests.traces.fixtures import by_name, normalized, one
from traces.normalize import apply_log_events, normalize
from traces.normalize.types import NormalizedSpan, RawSpan
from traces.otlp import LogEvent

ANSWER = "Paris is the capital of France. It has been the capital since 987."
WEATHER_CALL = {"id": "call_e0106a44b3170a1d94b08001", "name": "get_weather", "arguments": '{"city": "Paris"}'}


def raw(attributes=None, events=None, **kw) -> RawSpan:
    fields = {
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "eee19b7ec3c1b174",
        "name": "chat",
        "start_ns": 1_000_000_000,
        "end_ns": 2_000_000_000,
        "attributes": attributes or {},
        "events": events or [],
    }
    fields.update(kw)
    return RawSpan(**fields)


@pytest.mark.parametrize("fixture", ["genai-openai__chat", "genai-v2__chat"])
def test_a_chat_span_on_the_current_semconv(fixture):
    ((_, span),) = normalized(fixture)

    assert span.kind == "llm"
    assert span.provider == "openai"
    assert span.model == "gpt-4o-mini"
    assert span.model_version == ""
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (42, 17, 59)
    assert span.input_messages == [
        {"role": "system", "content": "You are a concise geography assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    assert span.output_messages == [{"role": "assistant", "content": ANSWER}]
    assert span.input_text == "What is the capital of France?"
    assert span.output_text == ANSWER
    assert span.cost == pytest.approx((42 * 0.15 + 17 * 0.60) / 1e6)
    assert span.service_name.startswith("fixture-genai")
    assert span.status == "unset"
    assert span.conventions == ["genai"]


@pytest.mark.parametrize(
    "fixture, message",
    [
        ("genai-openai__error", "openai.InternalServerError: Error code: 500 - fake status 500"),
        ("genai-v2__error", "InternalServerError: Error code: 500 - {'error': {'message': 'fake status 500'}}"),
    ],
)
def test_a_failed_call_is_an_error_with_its_type_and_message(fixture, message):
    ((_, span),) = normalized(fixture)

    assert span.status == "error"
    assert span.error == message
    assert span.input_text == "What is the capital of France?"
    assert span.output_messages == [] and span.cost is None


def test_the_time_to_first_chunk_attribute_gives_the_ttft():
    ((_, span),) = normalized("genai-openai__stream")
    assert span.ttft_ms == pytest.approx(9.354, abs=0.001)
    assert span.output_text == ANSWER


def test_openai_v2_streams_carry_no_ttft():
    # opentelemetry-instrumentation-openai-v2 with util-genai 0.4b0 records neither the attribute nor an event.
    ((_, span),) = normalized("genai-v2__stream")
    assert span.ttft_ms is None
    assert span.output_text == ANSWER


@pytest.mark.parametrize("fixture", ["genai-openai__tool_call", "genai-v2__tool_call"])
def test_a_tool_call_round_trip(fixture):
    pairs = normalized(fixture)
    first, second = by_name(pairs, "chat gpt-4o-mini")
    tool = one(pairs, "execute_tool get_weather")
    agent = one(pairs, "invoke_agent weather-agent")

    assert first.output_messages == [{"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]}]
    assert first.output_text == 'get_weather({"city": "Paris"})'
    assert second.input_messages[2:] == [
        {"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "content": "sunny, 22 C in Paris", "tool_call_id": "call_e0106a44b3170a1d94b08001"},
    ]
    assert second.output_text == "The weather in Paris is sunny, 22 C in Paris."
    assert tool.kind == "tool" and tool.tool_name == "get_weather"
    assert agent.kind == "agent"
    assert agent.input_text == "What's the weather in Paris?"
    assert agent.cost is None  # an agent repeats its calls' usage: only llm spans are priced


def test_the_execute_tool_span_of_genai_openai_carries_arguments_and_result():
    tool = one(normalized("genai-openai__tool_call"), "execute_tool get_weather")

    assert tool.tool_arguments == '{"city":"Paris"}'
    assert tool.tool_result == "sunny, 22 C in Paris"


def test_legacy_openai_v2_spans_get_their_messages_from_log_records():
    ((_, bare),) = normalized("genai-v2-default__chat")
    ((_, span),) = normalized("genai-v2-default__chat", with_logs=True)

    assert bare.input_messages == [] and bare.input_text == ""
    assert bare.provider == "openai"  # from the deprecated gen_ai.system
    assert span.input_messages == [
        {"role": "system", "content": "You are a concise geography assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    assert span.output_messages == [{"role": "assistant", "content": ANSWER}]
    assert span.input_text == "What is the capital of France?"
    assert span.output_text == ANSWER


def test_legacy_tool_call_log_records_give_tool_calls_and_tool_results():
    pairs = normalized("genai-v2-default__tool_call", with_logs=True)
    first, second = by_name(pairs, "chat gpt-4o-mini")

    assert first.output_messages == [{"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]}]
    assert second.input_messages == [
        {"role": "system", "content": "You are a weather assistant."},
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "content": "sunny, 22 C in Paris", "tool_call_id": "call_e0106a44b3170a1d94b08001"},
    ]
    assert one(pairs, "weather-agent").kind == "span"


@pytest.mark.parametrize("fixture", ["genai-openai-events__chat", "genai-v2-events__chat"])
def test_the_inference_details_log_record_gives_the_messages(fixture):
    ((_, span),) = normalized(fixture, with_logs=True)

    assert [m["role"] for m in span.input_messages] == ["system", "user"]
    assert span.output_text == ANSWER
    assert span.input_text == "What is the capital of France?"


def test_applying_log_events_twice_changes_nothing():
    events = [
        LogEvent("t", "s", "gen_ai.user.message", 2, {}, {"content": "hello"}),
        LogEvent("t", "s", "gen_ai.system.message", 1, {}, {"content": "be brief"}),
        LogEvent("t", "s", "gen_ai.choice", 3, {}, {"index": 0, "message": {"content": "hi!"}}),
    ]
    once = apply_log_events(NormalizedSpan(), events)
    twice = apply_log_events(once, events)

    assert once == twice
    assert [m["role"] for m in once.input_messages] == ["system", "user"]
    assert once.output_messages == [{"role": "assistant", "content": "hi!"}]
    assert (once.input_text, once.output_text) == ("hello", "hi!")
    assert once.conventions == ["genai"]


def test_log_events_keep_a_text_that_a_convention_set():
    norm = NormalizedSpan(input_text="the user's question, as the app logged it")
    events = [LogEvent("t", "s", "gen_ai.user.message", 1, {}, {"content": "hello"})]

    merged = apply_log_events(norm, events)

    assert merged.input_text == "the user's question, as the app logged it"
    assert merged.input_messages == [{"role": "user", "content": "hello"}]


def test_other_log_events_leave_the_span_alone():
    norm = NormalizedSpan(input_text="x")
    assert apply_log_events(norm, [LogEvent("t", "s", "gen_ai.evaluation.result", 1, {}, None)]) is norm
    assert apply_log_events(norm, []) is norm


def test_deprecated_names_still_read():
    span = normalize(
        raw(
            {
                "gen_ai.system": "anthropic",
                "gen_ai.request.model": "claude-3-5-sonnet-20241022",
                "gen_ai.usage.prompt_tokens": 1000,
                "gen_ai.usage.completion_tokens": 100,
                "gen_ai.prompt": json.dumps([{"role": "user", "content": [{"type": "text", "text": "Hi there"}]}]),
                "gen_ai.completion": "Hello!",
            }
        )
    )

    assert span.kind == "llm"  # no operation name: a model with tokens is a call
    assert span.provider == "anthropic"
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (1000, 100, 1100)
    assert span.input_messages == [{"role": "user", "content": "Hi there"}]
    assert span.output_text == "Hello!"
    assert span.cost == pytest.approx((1000 * 3 + 100 * 15) / 1e6)


def test_message_span_events_of_older_semconv_versions():
    events = [
        {"name": "gen_ai.content.prompt", "time_ns": 1_100_000_000, "attributes": {"gen_ai.prompt": "Tell me a joke"}},
        {
            "name": "gen_ai.content.completion",
            "time_ns": 1_900_000_000,
            "attributes": {"gen_ai.completion": '[{"role": "assistant", "content": "Knock knock."}]'},
        },
    ]
    span = normalize(raw({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}, events))

    assert span.input_messages == [{"role": "user", "content": "Tell me a joke"}]
    assert span.output_text == "Knock knock."


def test_per_message_span_events():
    events = [
        {"name": "gen_ai.user.message", "time_ns": 1, "attributes": {"content": "2+2?"}},
        {"name": "gen_ai.choice", "time_ns": 2, "attributes": {"index": 0, "message": '{"content": "4"}'}},
    ]
    span = normalize(raw({"gen_ai.operation.name": "chat"}, events))

    assert span.input_messages == [{"role": "user", "content": "2+2?"}]
    assert span.input_text == "2+2?"
    assert span.output_messages == [{"role": "assistant", "content": "4"}]


def test_the_response_model_is_the_model_version_when_it_differs():
    span = normalize(
        raw(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-05-13",
                "gen_ai.usage.input_tokens": 1_000_000,
                "gen_ai.usage.output_tokens": 0,
            }
        )
    )

    assert span.model == "gpt-4o"
    assert span.model_version == "gpt-4o-2024-05-13"
    assert span.cost == pytest.approx(5.0)  # priced as the dated snapshot, not as gpt-4o today


@pytest.mark.parametrize(
    "operation, kind",
    [
        ("chat", "llm"),
        ("text_completion", "llm"),
        ("generate_content", "llm"),
        ("embeddings", "embedding"),
        ("execute_tool", "tool"),
        ("invoke_agent", "agent"),
        ("create_agent", "agent"),
    ],
)
def test_the_operation_name_gives_the_kind(operation, kind):
    assert normalize(raw({"gen_ai.operation.name": operation})).kind == kind


def test_conversation_id_system_instructions_and_a_carried_cost():
    span = normalize(
        raw(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.conversation.id": "conv-7",
                "gen_ai.system_instructions": '[{"type": "text", "content": "Answer in French."}]',
                "gen_ai.input.messages": '[{"role": "user", "parts": [{"type": "text", "content": "Capital?"}]}]',
                "gen_ai.usage.input_tokens": 10,
                "gen_ai.usage.output_tokens": 5,
                "gen_ai.usage.cost": 0.5,
            }
        )
    )

    assert span.session_id == "conv-7"
    assert span.input_messages == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Capital?"},
    ]
    assert span.cost == 0.5


def test_a_stream_chunk_event_gives_the_ttft():
    events = [{"name": "gen_ai.content.completion.chunk", "time_ns": 1_250_000_000, "attributes": {}}]
    span = normalize(raw({"gen_ai.operation.name": "chat"}, events))
    assert span.ttft_ms == pytest.approx(250.0)


def test_an_unparseable_messages_attribute_is_ignored():
    span = normalize(raw({"gen_ai.operation.name": "chat", "gen_ai.input.messages": "[{not json"}))
    assert span.input_messages == [] and span.kind == "llm"


def test_a_plain_span_is_just_a_span():
    span = normalize(raw({"http.method": "GET"}, resource={"service.name": "web", "service.version": "1.4.2"}))

    assert span.kind == "span"
    assert span.conventions == []
    assert span.service_name == "web"
    assert span.release == "1.4.2"
    assert span.total_tokens is None and span.cost is None
