"""What langfuse 5.2.0 really sends (tests/fixtures/otlp/langfuse-sdk__observations.*, captured from the package):
the existing Langfuse normaliser reads its manual observations and its OpenAI drop-in."""

import pytest

from tests.otlp_payloads import fixture_bytes
from traces.normalize import normalize
from traces.otlp import JSON, PROTOBUF, decode_traces_request


@pytest.fixture(params=[("langfuse-sdk__observations.pb", PROTOBUF), ("langfuse-sdk__observations.json", JSON)])
def spans(request):
    name, media = request.param
    raws, errors = decode_traces_request(fixture_bytes(name), media)
    assert errors == []
    return {raw.name: normalize(raw) for raw in raws}


def test_a_manual_generation(spans):
    answer = spans["answer"]
    assert (answer.kind, answer.model) == ("llm", "gpt-4o-mini")
    assert [m["role"] for m in answer.input_messages] == ["system", "user"]
    assert answer.output_messages == [{"role": "assistant", "content": "Paris."}]
    assert (answer.input_tokens, answer.output_tokens, answer.total_tokens) == (42, 17, 59)
    assert (answer.session_id, answer.user_id, answer.release) == ("sess-lf", "user-lf", "1.4.0")
    assert answer.cost == pytest.approx((42 * 0.15 + 17 * 0.60) / 1e6)


def test_the_root_span(spans):
    root = spans["support.answer"]
    assert root.kind == "span" and root.output_text == "Paris."
    assert (root.session_id, root.user_id) == ("sess-lf", "user-lf")


def test_the_openai_drop_in_generation(spans):
    chat = spans["chat"]
    assert (chat.kind, chat.model) == ("llm", "gpt-4o-mini")
    assert (chat.input_tokens, chat.output_tokens, chat.total_tokens) == (42, 17, 59)
    assert chat.input_text == "What is the capital of France?" and chat.output_text == "Paris."
