"""Context precision through ragas (reference-free): per-document verdicts and average precision."""

from __future__ import annotations

import pytest

from evals.evaluators.types import EvalConfig, EvalTarget
from evals.judge_client import JudgeConfig
from evals.judges import JUDGES, judge_sync
from tests.judge_server import JudgeScript, judge_server, rag_span

PRECISION = JUDGES["context_precision"]
QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France."
RELEVANT = "Paris is the capital of France and its largest city."
IRRELEVANT = "Berlin is the capital of Germany."


def config_for(server) -> JudgeConfig:
    return JudgeConfig(base_url=server.base_url, api_key="sk-test", model="gpt-4o-mini")


def test_a_useful_document_ranked_second_halves_the_score_and_each_verdict_is_kept():
    target = rag_span(ANSWER, question=QUESTION, documents=[IRRELEVANT, RELEVANT])
    with judge_server() as server:
        result = judge_sync("context_precision", target, EvalConfig(threshold=0.7), config_for(server))

    assert result.status == "done"
    assert result.value == pytest.approx(0.5)
    assert result.passed is False
    docs = result.details["documents"]
    assert [(d["rank"], d["id"], d["verdict"]) for d in docs] == [(1, "d1", "not useful"), (2, "d2", "useful")]
    assert docs[0]["content"] == IRRELEVANT and docs[0]["reason"]
    assert (result.details["useful"], result.details["total"]) == (1, 2)
    # one ragas call per document, judged against the answer (no reference in a trace)
    assert server.answer.seen == ["usefulness", "usefulness"]
    prompts = [r["body"]["messages"][-1]["content"] for r in server.requests]
    assert IRRELEVANT in prompts[0] and RELEVANT in prompts[1] and ANSWER in prompts[0]
    assert len(result.details["calls"]) == 2


def test_the_useful_document_first_scores_one():
    target = rag_span(ANSWER, question=QUESTION, documents=[RELEVANT, IRRELEVANT])
    with judge_server() as server:
        result = judge_sync("context_precision", target, EvalConfig(), config_for(server))
    assert result.value == 1.0
    assert [d["useful"] for d in result.details["documents"]] == [True, False]


def test_scripted_verdicts_decide_usefulness():
    target = rag_span(ANSWER, question=QUESTION, documents=[RELEVANT, IRRELEVANT])
    with judge_server(JudgeScript(useful={"largest city": False, "Berlin": False})) as server:
        result = judge_sync("context_precision", target, EvalConfig(), config_for(server))
    assert result.value == 0.0
    assert result.label == "0/2 useful"


def test_it_needs_retrieved_documents_not_the_prompt():
    assert PRECISION.applies(rag_span(ANSWER, question=QUESTION, documents=[RELEVANT]))
    assert not PRECISION.applies(rag_span(ANSWER, question=QUESTION))  # no retriever before it
    assert not PRECISION.applies(rag_span(ANSWER, question=QUESTION, documents=[]))
    assert PRECISION.applies(EvalTarget(kind="llm", input_text=QUESTION, output_text=ANSWER, context=[RELEVANT]))


def test_retrievers_after_the_span_are_not_its_context():
    target = rag_span(ANSWER, question=QUESTION, documents=[RELEVANT])
    later = EvalTarget(span_id="r2", kind="retriever", documents=[{"id": "late", "content": IRRELEVANT}])
    target.spans = [*target.spans, later]
    assert PRECISION.inputs(target)["context"] == [RELEVANT]
