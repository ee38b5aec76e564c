"""Answer relevancy through ragas: generated questions, embeddings through the same endpoint, similarities."""

from __future__ import annotations

import pytest

from evals.evaluators.types import EvalConfig, EvalTarget
from evals.judge_client import JudgeConfig
from evals.judges import JUDGES, cache_key, judge_sync
from tests.judge_server import JudgeScript, hash_embedding, judge_server, rag_span, record_connections

RELEVANCY = JUDGES["answer_relevancy"]
QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France."


def config_for(server) -> JudgeConfig:
    return JudgeConfig(
        base_url=server.base_url, api_key="sk-test", model="gpt-4o-mini", embedding_model="text-embedding-3-small"
    )


def test_an_answer_to_the_question_asked_scores_one_with_its_questions_kept():
    with judge_server(JudgeScript(questions=[QUESTION])) as server, record_connections() as connections:
        result = judge_sync("answer_relevancy", rag_span(ANSWER, question=QUESTION), EvalConfig(), config_for(server))

    port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
    assert {address for event, address in connections if event == "socket.connect"} == {("127.0.0.1", port)}
    assert result.status == "done"
    assert result.value == pytest.approx(1.0)
    assert result.passed is True
    assert result.details["questions"] == [{"question": QUESTION, "noncommittal": False, "similarity": 1.0}] * 3
    # ragas: 3 question generations, then the real question and the generated ones embedded
    assert server.answer.seen == ["question"] * 3
    paths = [r["path"] for r in server.requests]
    assert paths == ["/v1/chat/completions"] * 3 + ["/v1/embeddings"] * 2
    embedded = [r["body"]["input"] for r in server.requests if r["path"].endswith("/embeddings")]
    assert embedded[0] in (QUESTION, [QUESTION]) and embedded[1] == [QUESTION] * 3
    assert {r["body"]["model"] for r in server.requests[3:]} == {"text-embedding-3-small"}
    assert [c["kind"] for c in result.details["calls"]] == ["chat"] * 3 + ["embeddings"] * 2
    chat_cost = 3 * (42 * 0.15 + 17 * 0.60) / 1e6
    embedding_cost = (8 + 24) * 0.02 / 1e6  # the fake reports 8 tokens per input
    assert result.cost == pytest.approx(chat_cost + embedding_cost)


def test_each_generated_questions_similarity_is_kept_and_the_value_is_their_mean():
    other = "Which river flows through Paris?"
    with judge_server(JudgeScript(questions=[QUESTION, other])) as server:
        result = judge_sync("answer_relevancy", rag_span(ANSWER, question=QUESTION), EvalConfig(), config_for(server))

    a, b = hash_embedding(QUESTION), hash_embedding(other)
    expected_other = sum(x * y for x, y in zip(a, b, strict=True))
    sims = [q["similarity"] for q in result.details["questions"]]
    assert [q["question"] for q in result.details["questions"]] == [QUESTION, other, QUESTION]
    assert sims == pytest.approx([1.0, expected_other, 1.0], abs=1e-6)
    assert result.value == pytest.approx((2 + expected_other) / 3, abs=1e-6)
    assert 0 < result.value < 1


def test_a_noncommittal_answer_scores_zero():
    with judge_server(JudgeScript(questions=[QUESTION], noncommittal=True)) as server:
        result = judge_sync(
            "answer_relevancy", rag_span("I don't know.", question=QUESTION), EvalConfig(), config_for(server)
        )
    assert result.value == 0.0
    assert result.passed is False
    assert result.label == "noncommittal"
    assert result.details["noncommittal"] is True


def test_it_applies_to_llm_spans_with_a_question_and_an_answer():
    assert RELEVANCY.applies(rag_span(ANSWER, question=QUESTION))  # needs no context
    assert not RELEVANCY.applies(rag_span("", question=QUESTION))
    assert not RELEVANCY.applies(EvalTarget(kind="llm", output_text=ANSWER))
    assert not RELEVANCY.applies(EvalTarget(kind="retriever", input_text=QUESTION, output_text=ANSWER))


def test_the_cache_key_covers_the_embedding_model_and_not_the_context():
    target = rag_span(ANSWER, question=QUESTION, documents=["doc one"])
    cfg = JudgeConfig(base_url="http://127.0.0.1:9/v1", api_key="k", model="gpt-4o-mini")
    key = cache_key("answer_relevancy", target, EvalConfig(), cfg)
    other_docs = rag_span(ANSWER, question=QUESTION, documents=["doc two"])
    assert cache_key("answer_relevancy", other_docs, EvalConfig(), cfg) == key
    other_embedder = JudgeConfig(
        base_url=cfg.base_url, api_key="k", model="gpt-4o-mini", embedding_model="text-embedding-3-large"
    )
    assert cache_key("answer_relevancy", target, EvalConfig(), other_embedder) != key
    assert len(key) == 64
