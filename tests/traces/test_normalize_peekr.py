"""Spans the installed Peekr SDK really produces (its @trace decorator, OpenAI patch, guards and evaluators),
serialised the way its HTTPExporter does, then read back. Only the provider call is faked."""

import json
import uuid
from types import SimpleNamespace

import pytest
from peekr.context import GuardrailError, clear_input_guards, register_input_guard
from peekr.decorators import trace
from peekr.eval import BaseEvaluator, EvalExporter
from peekr.exporters import add_exporter, clear_exporters
from peekr.guard import Blocklist
from peekr.patches.openai_patch import _make_chat_patch
from peekr.session import session

from traces.normalize import normalize
from traces.normalize.peekr import raw_from_peekr_json


class Capture:
    _is_storage = True

    def __init__(self):
        self.items = []

    def export(self, span):
        # What HTTPExporter puts in {"spans": [...]}.
        self.items.append(json.loads(json.dumps(span.to_dict())))


class Grounded(BaseEvaluator):
    def evaluate(self, span):
        return 0.75


class Broken(BaseEvaluator):
    def evaluate(self, span):
        raise RuntimeError("judge unavailable")


@pytest.fixture
def sdk():
    capture = Capture()
    add_exporter(EvalExporter([Grounded(), Broken()], async_eval=False))
    add_exporter(capture)
    yield capture
    clear_exporters()
    clear_input_guards()


def fake_openai_create(self, **kwargs):
    usage = SimpleNamespace(prompt_tokens=42, completion_tokens=17, total_tokens=59)
    answer = SimpleNamespace(message=SimpleNamespace(content="Paris is the capital of France."))
    return SimpleNamespace(usage=usage, choices=[answer])


chat_create = _make_chat_patch(fake_openai_create)


class Client:
    pass


MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}]


def sdk_item(capture, name):
    (item,) = [i for i in capture.items if i["name"] == name]
    return item


def test_an_openai_call_through_the_sdk(sdk):
    with session(session_id="sess-1", user_id="user-1", tenant_id="acme", retention_class="long"):
        chat_create(Client(), model="gpt-4o-mini", messages=MESSAGES)
    item = sdk_item(sdk, "openai.chat.completions")

    raw = raw_from_peekr_json(item)
    span = normalize(raw)

    assert raw.source == "peekr"
    assert raw.trace_id == item["trace_id"] and raw.span_id == item["span_id"] and len(raw.span_id) == 32
    assert raw.start_ns == round(item["start_time"] * 1e6) * 1000
    assert raw.end_ns >= raw.start_ns
    assert raw.status_code == 1
    assert raw.attributes["peekr.tenant_id"] == "acme" and raw.attributes["peekr.retention_class"] == "long"
    assert span.kind == "llm"
    assert span.provider == "openai"
    assert span.model == "gpt-4o-mini"
    assert span.input_messages == MESSAGES
    assert span.input_text == "Capital of France?"
    assert span.output_text == "Paris is the capital of France."
    assert span.output_messages == [{"role": "assistant", "content": "Paris is the capital of France."}]
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (42, 17, 59)
    assert span.cost == pytest.approx((42 * 0.15 + 17 * 0.60) / 1e6)
    assert (span.session_id, span.user_id) == ("sess-1", "user-1")
    assert span.status == "ok"
    assert span.conventions == ["peekr"]


def test_the_sdk_evaluator_scores_become_sdk_scores(sdk):
    chat_create(Client(), model="gpt-4o-mini", messages=MESSAGES)
    span = normalize(raw_from_peekr_json(sdk_item(sdk, "openai.chat.completions")))

    assert span.sdk_scores == [
        {"evaluator": "Grounded", "value": 0.75, "passed": None, "label": None, "details": None},
        {
            "evaluator": "Broken",
            "value": None,
            "passed": None,
            "label": None,
            "details": {"error": "RuntimeError: judge unavailable"},
        },
    ]


def test_a_call_blocked_by_an_input_guardrail(sdk):
    register_input_guard(Blocklist(terms=["password"], action="raise"))
    with pytest.raises(GuardrailError):
        chat_create(Client(), model="gpt-4o-mini", messages=[{"role": "user", "content": "my password is hunter2"}])
    item = sdk_item(sdk, "openai.chat.completions")

    raw = raw_from_peekr_json(item)
    span = normalize(raw)

    assert item["status"] == "blocked"
    assert (raw.status_code, raw.status_message) == (2, "blocked")
    assert span.status == "error"
    assert span.error == "blocked by a guardrail: Blocklist: blocked pattern in 'input'"
    (guardrails,) = [s for s in span.sdk_scores if s["evaluator"] == "guardrails"]
    assert guardrails["passed"] is False
    assert guardrails["details"]["violations"] == ["Blocklist: blocked pattern in 'input'"]


def test_a_traced_function(sdk):
    @trace(name="tool.lookup_city")
    def lookup_city(name):
        return f"{name} is in France"

    lookup_city("Paris")
    span = normalize(raw_from_peekr_json(sdk_item(sdk, "tool.lookup_city")))

    assert span.kind == "tool"
    assert span.tool_name == "lookup_city"
    assert span.input_text == "Paris"
    assert span.output_text == "Paris is in France"  # @trace stores json.dumps(result)
    assert span.tool_result == "Paris is in France"


def test_a_traced_function_that_raises(sdk):
    @trace
    def flaky():
        raise ValueError("upstream timeout")

    with pytest.raises(ValueError):
        flaky()
    (item,) = sdk.items
    span = normalize(raw_from_peekr_json(item))

    assert span.kind == "span"
    assert span.status == "error"
    assert span.error == "upstream timeout"


def test_judge_calls_are_internal_and_other_sdk_attributes():
    item = {
        "name": "anthropic.messages",
        "trace_id": str(uuid.uuid4()),
        "span_id": uuid.uuid4().hex.upper(),
        "parent_id": None,
        "start_time": 1795315283.5,
        "end_time": None,
        "attributes": {
            "model": "claude-3-5-haiku-20241022",
            "peekr.internal": True,
            "eval_scores": {"Hallucination": 0.5},
            "hallucination_details": {"claims": [], "supported": 1, "total": 2, "score": 0.5},
            "evidence_chunks": [{"n": 1, "id": "kb-1", "text": "Paris...", "score": 0.8, "title": "Paris", "rank": 1}],
            "guardrail_warnings": ["PIIRedact: [email] removed from [input]"],
        },
        "status": "ok",
        "tenant_id": None,
        "retention_class": None,
        "duration_ms": None,
    }

    raw = raw_from_peekr_json(item)
    span = normalize(raw)

    assert raw.trace_id == item["trace_id"].replace("-", "")
    assert raw.span_id == item["span_id"].lower()
    assert raw.end_ns is None
    assert "peekr.tenant_id" not in raw.attributes
    assert span.is_internal is True
    assert span.provider == "anthropic"
    assert span.documents == [
        {"id": "kb-1", "content": "Paris...", "score": 0.8, "metadata": {"n": 1, "title": "Paris", "rank": 1}}
    ]
    assert span.sdk_scores[0] == {
        "evaluator": "Hallucination",
        "value": 0.5,
        "passed": None,
        "label": None,
        "details": {"claims": [], "supported": 1, "total": 2, "score": 0.5},
    }
    assert span.sdk_scores[1]["evaluator"] == "guardrails" and span.sdk_scores[1]["passed"] is True


def test_rag_harness_documents_and_names_of_framework_spans():
    item = {
        "name": "rag.retrieve",
        "trace_id": uuid.uuid4().hex,
        "span_id": uuid.uuid4().hex,
        "start_time": 1795315283.5,
        "end_time": 1795315283.75,
        "attributes": {"rag.query": "capital?", "rag.docs_count": 2, "rag.retrieved_docs": "doc one\n\n---\n\ndoc two"},
        "status": "ok",
    }
    span = normalize(raw_from_peekr_json(item))

    assert span.kind == "retriever"
    assert span.input_text == "capital?"
    assert [d["content"] for d in span.documents] == ["doc one", "doc two"]
    for name, kind in [
        ("langchain.chat.ChatOpenAI", "llm"),
        ("langchain.tool.search", "tool"),
        ("langchain.retriever.VectorStoreRetriever", "retriever"),
        ("langchain.chain.RunnableSequence", "chain"),
        ("crewai.agent.execute_task", "agent"),
        ("openai.embeddings", "embedding"),
        ("bedrock.converse", "llm"),
        ("GET /chat", "span"),
    ]:
        assert normalize(raw_from_peekr_json({**item, "name": name, "attributes": {}})).kind == kind, name


def test_spans_re_exported_through_opentelemetry_keep_the_sdk_scores():
    from traces.normalize.types import RawSpan

    raw = RawSpan(
        trace_id="5b8efff798038103d269b633813fc60c",
        span_id="eee19b7ec3c1b174",
        name="openai.chat.completions",
        start_ns=1,
        end_ns=2,
        attributes={
            "openinference.span.kind": "LLM",
            "peekr.name": "openai.chat.completions",
            "llm.model_name": "gpt-4o-mini",
            "peekr.eval.Grounded": 0.9,
        },
    )
    span = normalize(raw)

    assert span.kind == "llm" and span.model == "gpt-4o-mini"
    assert span.sdk_scores == [{"evaluator": "Grounded", "value": 0.9, "passed": None, "label": None, "details": None}]
    assert span.conventions == ["peekr", "openinference"]


GOOD = {
    "name": "op",
    "trace_id": "5b8efff798038103d269b633813fc60c",
    "span_id": "e7d1f3b2c4a54e0f9d8c7b6a5f4e3d2c",
    "parent_id": None,
    "start_time": 1795315283.5,
    "end_time": 1795315284.0,
    "attributes": {},
    "status": "ok",
}


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"name": ""}, "name is missing"),
        ({"trace_id": None}, "trace_id is missing"),
        ({"trace_id": "not-a-uuid"}, "trace_id 'not-a-uuid' is not 32 hex characters"),
        ({"trace_id": "0" * 32}, "trace_id is all zeros"),
        ({"span_id": "12345"}, "span_id '12345' is not 32 or 16 hex characters"),
        ({"parent_id": "xyz"}, "parent_id 'xyz' is not 32 or 16 hex characters"),
        ({"start_time": None}, "start_time must be a number of seconds since the epoch, got NoneType"),
        ({"start_time": "yesterday"}, "start_time must be a number of seconds since the epoch, got str"),
        ({"end_time": 1795315283.0}, "end_time is before start_time"),
        ({"attributes": ["a"]}, "attributes must be a JSON object"),
    ],
)
def test_an_invalid_item_is_rejected_with_a_reason(change, reason):
    with pytest.raises(ValueError) as caught:
        raw_from_peekr_json({**GOOD, **change})
    assert str(caught.value) == reason


def test_a_non_object_item_is_rejected():
    with pytest.raises(ValueError, match="must be a JSON object"):
        raw_from_peekr_json(["not", "a", "span"])


def test_a_parent_id_and_a_minimal_item():
    raw = raw_from_peekr_json({**GOOD, "parent_id": "E7D1F3B2-C4A5-4E0F-9D8C-7B6A5F4E3D2D", "attributes": None})

    assert raw.parent_span_id == "e7d1f3b2c4a54e0f9d8c7b6a5f4e3d2d"
    assert raw.attributes == {}
    assert raw.end_ns - raw.start_ns == 500_000_000
    assert normalize(raw).status == "ok"
