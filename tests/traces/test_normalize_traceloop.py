import pytest

from tests.traces.fixtures import by_name, normalized, one
from traces.normalize import normalize
from traces.normalize.types import RawSpan

ANSWER = "Paris is the capital of France. It has been the capital since 987."
WEATHER_CALL = {"id": "call_e0106a44b3170a1d94b08001", "name": "get_weather", "arguments": '{"city": "Paris"}'}


def raw(attributes, **kw) -> RawSpan:
    fields = {
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "eee19b7ec3c1b174",
        "name": "openai.chat",
        "start_ns": 1_000_000_000,
        "end_ns": 2_000_000_000,
        "attributes": attributes,
    }
    fields.update(kw)
    return RawSpan(**fields)


def test_legacy_flat_keys_give_the_messages():
    ((_, span),) = normalized("traceloop-legacy__chat")

    assert span.kind == "llm"
    assert span.provider == "openai"
    assert span.model == "gpt-4o-mini"
    assert span.input_messages == [
        {"role": "system", "content": "You are a concise geography assistant."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    assert span.output_messages == [{"role": "assistant", "content": ANSWER}]
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (42, 17, 59)
    assert span.conventions == ["traceloop", "genai"]
    assert span.cost == pytest.approx((42 * 0.15 + 17 * 0.60) / 1e6)


def test_legacy_tool_calls_and_tool_results():
    pairs = normalized("traceloop-legacy__tool_call")
    first, second = by_name(pairs, "openai.chat")

    assert first.output_messages == [{"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]}]
    assert first.total_tokens == 101  # llm.usage.total_tokens
    assert second.input_messages[2:] == [
        {"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "content": "sunny, 22 C in Paris", "tool_call_id": "call_e0106a44b3170a1d94b08001"},
    ]
    assert second.output_text == "The weather in Paris is sunny, 22 C in Paris."


def test_legacy_stream_chunk_events_give_the_ttft():
    ((_, span),) = normalized("traceloop-legacy__stream")
    assert span.ttft_ms == pytest.approx(12.062559)
    assert span.status == "ok"


def test_current_stream_chunk_events_give_the_ttft():
    ((_, span),) = normalized("traceloop__stream")
    assert span.ttft_ms == pytest.approx(15.730931)
    assert span.output_text == ANSWER


def test_current_chat_reads_genai_messages_and_traceloop_total():
    ((_, span),) = normalized("traceloop__chat")

    assert span.input_text == "What is the capital of France?"
    assert span.output_text == ANSWER
    assert span.total_tokens == 59
    assert span.conventions == ["traceloop", "genai"]


def test_current_tool_call():
    pairs = normalized("traceloop__tool_call")
    first, second = by_name(pairs, "openai.chat")

    assert first.output_messages == [{"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]}]
    assert second.input_messages[3] == {
        "role": "tool",
        "content": "sunny, 22 C in Paris",
        "tool_call_id": "call_e0106a44b3170a1d94b08001",
    }
    assert one(pairs, "weather-agent").kind == "span"


def test_a_failed_call():
    ((_, span),) = normalized("traceloop__error")

    assert span.status == "error"
    assert span.error == "openai.InternalServerError: Error code: 500 - fake status 500"


def test_sdk_workflow_kinds_entities_and_association_properties():
    pairs = normalized("traceloop-sdk__workflow")
    workflow = one(pairs, "rag_workflow.workflow")
    retrieve = one(pairs, "retrieve_context.task")
    tool = one(pairs, "get_weather.tool")
    answer = one(pairs, "answer.task")
    chat = one(pairs, "openai.chat")

    assert [workflow.kind, retrieve.kind, tool.kind, answer.kind, chat.kind] == [
        "chain",
        "chain",
        "tool",
        "chain",
        "llm",
    ]
    assert workflow.input_text == "What is the capital of France?"
    assert workflow.output_text == ANSWER
    assert retrieve.output_text == (
        '["Paris is the capital and largest city of France.", "The Eiffel Tower was completed in 1889."]'
    )
    assert answer.input_text.startswith('{"args": ["What is the capital of France?", [')
    assert tool.tool_name == "get_weather"
    assert tool.tool_arguments == '{"args": ["Paris"], "kwargs": {}}'
    assert tool.tool_result == "sunny, 22 C in Paris"
    assert chat.model == "gpt-4o-mini" and chat.output_text == ANSWER
    assert {(s.session_id, s.user_id) for _, s in pairs} == {("fixture-session-3", "fixture-user-1")}


def test_span_kind_request_type_and_legacy_function_call():
    agent = normalize(
        raw({"traceloop.span.kind": "agent", "traceloop.entity.input": '{"args": [], "kwargs": {"q": "hi"}}'})
    )
    embedding = normalize(raw({"llm.request.type": "embedding", "gen_ai.request.model": "text-embedding-3-large"}))
    legacy = normalize(
        raw(
            {
                "llm.request.type": "chat",
                "gen_ai.prompt.0.role": "user",
                "gen_ai.prompt.0.content": "weather?",
                "gen_ai.completion.0.role": "assistant",
                "gen_ai.completion.0.function_call.name": "get_weather",
                "gen_ai.completion.0.function_call.arguments": '{"city": "Oslo"}',
                "traceloop.prompt.version": 4,
            }
        )
    )

    assert agent.kind == "agent" and agent.input_text == "hi"
    assert embedding.kind == "embedding"
    assert legacy.output_messages == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "", "name": "get_weather", "arguments": '{"city": "Oslo"}'}],
        }
    ]
    assert legacy.prompt_version == "4"
