"""Faithfulness through ragas, against a local OpenAI-compatible server (no database)."""

from __future__ import annotations

import os

import pytest

from evals.evaluators.types import EvalConfig, EvalTarget
from evals.judge_client import JudgeConfig, JudgeMalformed, JudgeRetryable
from evals.judges import JUDGES, error_result, judge_sync
from tests.judge_server import JudgeScript, judge_server, rag_span, record_connections

FAITHFULNESS = JUDGES["faithfulness"]
SUPPORTED = "Paris is the capital of France."
UNSUPPORTED = "Paris has 40 million inhabitants."
DOCS = ["Paris is the capital of France. It lies on the Seine.", "France is a country in Western Europe."]


def config_for(server, model: str = "gpt-4o-mini") -> JudgeConfig:
    return JudgeConfig(base_url=server.base_url, api_key="sk-test", model=model, timeout_s=5)


def test_faithfulness_through_ragas_gives_the_claims_and_verdicts_and_the_right_score():
    """An answer with one supported and one unsupported claim: 0.5, both claims kept with their verdicts."""
    script = JudgeScript(claims={SUPPORTED: True, UNSUPPORTED: False})
    target = rag_span(f"{SUPPORTED} {UNSUPPORTED}", documents=DOCS)
    with judge_server(script) as server, record_connections() as connections:
        result = judge_sync("faithfulness", target, EvalConfig(threshold=0.5), config_for(server))

    assert result.status == "done"
    assert result.value == 0.5
    assert result.passed is True
    assert result.details["claims"] == [
        {"claim": SUPPORTED, "verdict": "supported", "reason": "The context states this."},
        {"claim": UNSUPPORTED, "verdict": "unsupported", "reason": "The context does not state this."},
    ]
    assert (result.details["supported"], result.details["total"]) == (1, 2)
    assert UNSUPPORTED in result.explanation
    # ragas's two steps, each one chat call with its own prompts, nothing else
    assert server.answer.seen == ["statements", "nli"]
    assert [r["path"] for r in server.requests] == ["/v1/chat/completions"] * 2
    statements_prompt, nli_prompt = (r["body"]["messages"][-1]["content"] for r in server.requests)
    assert SUPPORTED in statements_prompt and UNSUPPORTED in statements_prompt
    assert DOCS[0] in nli_prompt and DOCS[1] in nli_prompt  # the retriever's documents are the context
    assert all(r["body"]["response_format"] == {"type": "json_object"} for r in server.requests)
    # every call accounted for: 2 x (42 prompt + 17 completion tokens) at gpt-4o-mini's price
    assert [(c["input_tokens"], c["output_tokens"]) for c in result.details["calls"]] == [(42, 17), (42, 17)]
    assert result.cost == pytest.approx(2 * (42 * 0.15 + 17 * 0.60) / 1e6)
    assert result.judge_model == "gpt-4o-mini"
    assert result.latency_ms > 0
    # nothing but the judge endpoint was contacted: no telemetry, no tokenizer download
    port = server.base_url.split(":")[2].split("/")[0]
    contacted = {address for event, address in connections if event == "socket.connect"}
    assert contacted == {("127.0.0.1", int(port))}
    assert os.environ["RAGAS_DO_NOT_TRACK"] == "true"


def test_all_claims_supported_scores_one_and_the_default_verdict_reads_the_context():
    target = rag_span("Paris is the capital of France. Paris lies on the Seine.", documents=DOCS)
    script = JudgeScript(claims={"Paris is the capital of France.": True, "Paris lies on the Seine.": True})
    with judge_server(script) as server:
        result = judge_sync("faithfulness", target, EvalConfig(), config_for(server))
    assert result.value == 1.0
    assert [c["verdict"] for c in result.details["claims"]] == ["supported", "supported"]


def test_without_retrievers_the_context_is_the_spans_input():
    target = EvalTarget(
        span_id="l1",
        kind="llm",
        input_text="What is the capital?",
        output_text="The capital is Lyon.",
        input_messages=[
            {"role": "system", "content": "Facts: the capital of France is Paris."},
            {"role": "user", "content": "What is the capital?"},
        ],
    )
    assert FAITHFULNESS.applies(target)
    with judge_server(JudgeScript(claims={"The capital is Lyon.": False})) as server:
        result = judge_sync("faithfulness", target, EvalConfig(), config_for(server))
    nli_prompt = server.requests[1]["body"]["messages"][-1]["content"]
    assert "Facts: the capital of France is Paris." in nli_prompt
    assert result.value == 0.0
    assert result.passed is False
    assert result.details["claims"][0]["verdict"] == "unsupported"


def test_an_answer_without_claims_is_skipped_not_scored():
    with judge_server(JudgeScript(statements=[])) as server:
        result = judge_sync("faithfulness", rag_span("Hello!", documents=DOCS), EvalConfig(), config_for(server))
    assert result.status == "skipped"
    assert result.value is None
    assert server.answer.seen == ["statements"]


def test_a_malformed_reply_is_an_error_with_the_raw_reply_and_no_retry_loop():
    script = JudgeScript(raw_reply="Sure! The statements are: Paris.")
    with judge_server(script) as server, pytest.raises(JudgeMalformed) as caught:
        judge_sync("faithfulness", rag_span(SUPPORTED, documents=DOCS), EvalConfig(), config_for(server))
    assert caught.value.raw == "Sure! The statements are: Paris."
    assert "not the JSON asked for" in caught.value.reason
    assert len(server.requests) == 1  # instructor's re-ask loop is off
    assert len(caught.value.calls) == 1 and caught.value.cost > 0  # what it cost is still accounted for
    stored = error_result(caught.value)
    assert (stored.status, stored.value, stored.raw) == ("error", None, "Sure! The statements are: Paris.")


def test_a_server_error_midway_is_retryable_and_records_no_score():
    with judge_server(JudgeScript(claims={SUPPORTED: True})) as server:
        server.fail_next.append((503, {"Retry-After": "3"}))
        with pytest.raises(JudgeRetryable) as caught:
            judge_sync("faithfulness", rag_span(SUPPORTED, documents=DOCS), EvalConfig(), config_for(server))
    assert caught.value.retry_after == 3
    assert "HTTP 503" in caught.value.reason
    stored = error_result(caught.value)
    assert stored.status == "error" and stored.value is None and stored.passed is None


def test_it_applies_to_llm_spans_with_an_output_and_a_context():
    assert FAITHFULNESS.applies(rag_span(SUPPORTED, documents=DOCS))
    assert not FAITHFULNESS.applies(rag_span("", documents=DOCS))
    assert not FAITHFULNESS.applies(EvalTarget(kind="tool", input_text="q", output_text="a", context=["c"]))
    assert not FAITHFULNESS.applies(EvalTarget(kind="llm", output_text="an answer"))  # no question, no context


def test_the_cache_key_hashes_exactly_what_the_judge_reads():
    target = rag_span(SUPPORTED, documents=DOCS)
    key = FAITHFULNESS.cache_key(target, EvalConfig(), "gpt-4o-mini")
    assert len(key) == 64
    same = rag_span(SUPPORTED, documents=DOCS)
    same.duration_ms, same.model, same.span_id = 1234.0, "other-model", "other-span"
    assert FAITHFULNESS.cache_key(same, EvalConfig(), "gpt-4o-mini") == key
    assert FAITHFULNESS.cache_key(target, EvalConfig(), "gpt-4o") != key
    assert FAITHFULNESS.cache_key(rag_span(SUPPORTED, documents=DOCS[:1]), EvalConfig(), "gpt-4o-mini") != key
    assert FAITHFULNESS.cache_key(rag_span(UNSUPPORTED, documents=DOCS), EvalConfig(), "gpt-4o-mini") != key
    assert FAITHFULNESS.version.startswith("ragas-0.4.3/")
