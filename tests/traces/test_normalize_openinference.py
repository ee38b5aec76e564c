import json

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
        "name": "span",
        "start_ns": 1_000_000_000,
        "end_ns": 2_000_000_000,
        "attributes": attributes,
    }
    fields.update(kw)
    return RawSpan(**fields)


def test_rag_retriever_span_has_its_documents():
    retriever = one(normalized("openinference__rag"), "retrieve")

    assert retriever.kind == "retriever"
    assert retriever.documents == [
        {
            "id": "doc-17",
            "content": "Paris is the capital and largest city of France.",
            "score": 0.91,
            "metadata": {"source": "wiki/Paris"},
        },
        {
            "id": "doc-42",
            "content": "The Eiffel Tower was completed in 1889.",
            "score": 0.64,
            "metadata": {"source": "wiki/Eiffel_Tower"},
        },
    ]
    assert retriever.input_text == "What is the capital of France?"
    assert retriever.session_id == "fixture-session-1"


def test_rag_llm_span():
    llm = one(normalized("openinference__rag"), "ChatCompletion")

    assert llm.kind == "llm"
    assert llm.provider == "openai"
    assert llm.model == "gpt-4o-mini"
    assert (llm.input_tokens, llm.output_tokens, llm.total_tokens) == (42, 17, 59)
    assert [m["role"] for m in llm.input_messages] == ["system", "user"]
    assert llm.input_messages[0]["content"].startswith("Answer from the context.\nParis is the capital")
    assert llm.input_text == "What is the capital of France?"
    assert llm.output_messages == [{"role": "assistant", "content": ANSWER}]
    assert llm.output_text == ANSWER
    assert llm.session_id == "fixture-session-1"
    assert llm.user_id == "fixture-user-1"
    assert llm.status == "ok"
    assert llm.cost == pytest.approx((42 * 0.15 + 17 * 0.60) / 1e6)
    assert llm.conventions == ["openinference"]


def test_rag_chain_root_keeps_its_plain_text_input_and_output():
    chain = one(normalized("openinference__rag"), "rag.answer")

    assert chain.kind == "chain"
    assert chain.input_text == "What is the capital of France?"
    assert chain.output_text == ANSWER
    assert chain.user_id == "fixture-user-1"
    assert chain.cost is None and chain.total_tokens is None


def test_embeddings_span():
    ((_, span),) = normalized("openinference__embeddings")

    assert span.kind == "embedding"
    assert span.model == "text-embedding-3-small"
    assert span.input_text == "Paris is the capital of France.\nThe Eiffel Tower was completed in 1889."
    assert span.output_text == ""  # the response is vectors
    assert (span.input_tokens, span.total_tokens) == (1, 1)
    assert span.cost == pytest.approx(0.02 / 1e6)


def test_a_failed_call_is_an_error_and_keeps_the_requested_model():
    ((_, span),) = normalized("openinference__error")

    assert span.status == "error"
    assert span.error == "InternalServerError: Error code: 500 - fake status 500"
    assert span.model == "gpt-4o-mini"  # from llm.invocation_parameters: there is no response
    assert span.input_text == "What is the capital of France?"


def test_the_first_token_stream_event_gives_the_ttft():
    ((_, span),) = normalized("openinference__stream")
    assert span.ttft_ms == pytest.approx(8.726486)
    assert span.output_text == ANSWER


@pytest.mark.parametrize("fixture", ["openinference__tool_call", "openinference-genaisemconv__tool_call"])
def test_a_tool_call_round_trip(fixture):
    pairs = normalized(fixture)
    first, second = by_name(pairs, "ChatCompletion")
    tool = one(pairs, "get_weather")
    agent = one(pairs, "weather-agent")

    assert first.output_messages == [{"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]}]
    assert (first.input_tokens, first.output_tokens, first.total_tokens) == (85, 16, 101)
    assert second.input_messages[2:] == [
        {"role": "assistant", "content": "", "tool_calls": [WEATHER_CALL]},
        {"role": "tool", "content": "sunny, 22 C in Paris", "tool_call_id": "call_e0106a44b3170a1d94b08001"},
    ]
    assert tool.kind == "tool"
    assert tool.tool_name == "get_weather"
    assert tool.tool_arguments == '{"city": "Paris"}'
    assert tool.tool_result == "sunny, 22 C in Paris"
    assert agent.kind == "agent"
    assert agent.output_text == "The weather in Paris is sunny, 22 C in Paris."
    assert {s.session_id for _, s in pairs} == {"fixture-session-2"}


def test_with_genai_semconv_on_the_tool_arguments_are_not_the_schema():
    # OpenInference writes the tool's JSON schema into gen_ai.tool.call.arguments: its own input.value wins.
    tool = one(normalized("openinference-genaisemconv__tool_call"), "get_weather")

    assert tool.tool_arguments == '{"city": "Paris"}'
    assert tool.conventions == ["openinference", "genai"]


def test_flattened_tool_calls_on_a_span_and_a_prompt_template_version():
    span = normalize(
        raw(
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "claude-3-5-haiku-20241022",
                "llm.provider": "anthropic",
                "llm.system": "anthropic",
                "llm.prompt_template.version": "v7",
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.contents.0.message_content.type": "text",
                "llm.input_messages.0.message.contents.0.message_content.text": "Look at this",
                "llm.input_messages.0.message.contents.1.message_content.type": "image",
                "llm.input_messages.0.message.contents.1.message_content.image.image.url": "https://x/y.png",
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.tool_calls.0.tool_call.id": "a",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "zoom",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{}",
                "llm.output_messages.0.message.tool_calls.1.tool_call.id": "b",
                "llm.output_messages.0.message.tool_calls.1.tool_call.function.name": "crop",
                "llm.output_messages.0.message.tool_calls.1.tool_call.function.arguments": '{"x": 1}',
                "llm.token_count.prompt": 100,
                "llm.token_count.completion": 10,
            }
        )
    )

    assert span.provider == "anthropic"
    assert span.prompt_version == "v7"
    assert span.input_messages == [{"role": "user", "content": "Look at this"}]
    assert [c["name"] for c in span.output_messages[0]["tool_calls"]] == ["zoom", "crop"]
    assert span.output_text == 'zoom({})\ncrop({"x": 1})'
    assert span.total_tokens == 110
    assert span.cost == pytest.approx((100 * 0.80 + 10 * 4.00) / 1e6)


def test_an_openai_request_in_input_value_gives_the_messages_when_they_are_not_flattened():
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
    response = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}}]}
    span = normalize(
        raw(
            {
                "openinference.span.kind": "LLM",
                "input.value": json.dumps(request),
                "input.mime_type": "application/json",
                "output.value": json.dumps(response),
                "output.mime_type": "application/json",
            }
        )
    )

    assert span.input_messages == [{"role": "user", "content": "Hi"}]
    assert span.output_messages == [{"role": "assistant", "content": "Hello"}]
    assert (span.input_text, span.output_text) == ("Hi", "Hello")


def test_json_input_that_is_not_a_chat_request_stays_text():
    span = normalize(
        raw(
            {
                "openinference.span.kind": "CHAIN",
                "input.value": '{"question": "why?"}',
                "input.mime_type": "application/json",
                "output.value": "because",
            }
        )
    )

    assert span.input_text == '{"question": "why?"}'
    assert span.output_text == "because"
    assert span.input_messages == []


def test_reranker_documents_and_other_kinds():
    span = normalize(
        raw(
            {
                "openinference.span.kind": "RERANKER",
                "reranker.output_documents.0.document.id": "d2",
                "reranker.output_documents.0.document.content": "best",
                "reranker.output_documents.0.document.score": 3.5,
            }
        )
    )

    assert span.kind == "reranker"
    assert span.documents == [{"id": "d2", "content": "best", "score": 3.5, "metadata": {}}]
    assert normalize(raw({"openinference.span.kind": "GUARDRAIL"})).kind == "guardrail"
    assert normalize(raw({"openinference.span.kind": "EVALUATOR"})).kind == "evaluator"
    assert normalize(raw({"openinference.span.kind": "UNKNOWN"})).kind == "span"
