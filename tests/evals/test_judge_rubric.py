"""The rubric judge: a user's criteria and scale in the system message, the content under review in the user one."""

from __future__ import annotations

import pytest

from evals.evaluators.types import EvalConfig, EvalTarget
from evals.judge_client import JudgeConfig, JudgeError, JudgeMalformed
from evals.judges import JUDGES, cache_key, judge_sync
from tests.judge_server import JudgeScript, judge_server, rag_span

RUBRIC = JUDGES["rubric"]
CRITERIA = "The answer is polite and cites the documents it relies on."
QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France [d1]."


def rubric(criteria: str = CRITERIA, lo: int = 1, hi: int = 5, pass_threshold: int | None = 4) -> EvalConfig:
    spec = {"criteria": criteria, "scale": {"min": lo, "max": hi}}
    if pass_threshold is not None:
        spec["pass_threshold"] = pass_threshold
    return EvalConfig(rubric=spec)


def config_for(server) -> JudgeConfig:
    return JudgeConfig(base_url=server.base_url, api_key="sk-test", model="gpt-4o-mini")


def test_criteria_go_in_the_system_message_and_the_content_in_the_user_message():
    target = rag_span(ANSWER, question=QUESTION, documents=["Paris is the capital of France."])
    with judge_server(JudgeScript(rubric_score=4, rubric_reason="Polite, cites d1.")) as server:
        result = judge_sync("rubric", target, rubric(), config_for(server))

    body = server.requests[0]["body"]
    system, user = body["messages"]
    assert (system["role"], user["role"]) == ("system", "user")
    assert CRITERIA in system["content"]
    assert "from 1 (worst) to 5 (best)" in system["content"]
    assert '{"score": <int>, "reason": <str>}' in system["content"]
    assert CRITERIA not in user["content"]
    assert QUESTION in user["content"] and ANSWER in user["content"]
    assert "Paris is the capital of France." in user["content"]  # the retrieved context
    assert body["response_format"] == {"type": "json_object"}
    assert len(server.requests) == 1

    assert result.value == pytest.approx(0.75)  # 4 on 1..5
    assert result.passed is True
    assert result.details["score"] == 4
    assert result.details["reason"] == result.explanation == "Polite, cites d1."
    assert result.label == "4/5"
    assert result.cost == pytest.approx((42 * 0.15 + 17 * 0.60) / 1e6)


def test_the_pass_threshold_is_on_the_rubrics_own_scale():
    target = rag_span(ANSWER, question=QUESTION)
    with judge_server(JudgeScript(rubric_score=3)) as server:
        below = judge_sync("rubric", target, rubric(lo=0, hi=10, pass_threshold=7), config_for(server))
        without = judge_sync("rubric", target, rubric(lo=1, hi=5, pass_threshold=None), config_for(server))
    assert (below.value, below.passed, below.details["score"]) == (pytest.approx(0.3), False, 3)
    assert (without.value, without.passed) == (pytest.approx(0.5), True)  # falls back to config.threshold (0.5)
    assert "<context>" not in server.requests[0]["body"]["messages"][1]["content"]  # no retriever, no context


def test_the_version_changes_with_the_criteria_or_the_scale():
    base = RUBRIC.version_for(rubric())
    assert base == RUBRIC.version_for(rubric())
    assert RUBRIC.version_for(rubric(criteria="Be brief.")) != base
    assert RUBRIC.version_for(rubric(hi=10)) != base
    target = rag_span(ANSWER, question=QUESTION)
    cfg = JudgeConfig(base_url="http://127.0.0.1:9/v1", api_key="k", model="gpt-4o-mini")
    assert cache_key("rubric", target, rubric(), cfg) != cache_key("rubric", target, rubric(criteria="Be brief."), cfg)


@pytest.mark.parametrize(
    "reply",
    [
        "The answer deserves a 4.",
        '```json\n{"score": 4, "reason": "ok"}\n```',
        '{"score": "4", "reason": "ok"}',
        '{"score": 9, "reason": "ok"}',
        '{"score": 4}',
        "[4]",
    ],
)
def test_a_reply_that_is_not_the_json_asked_for_is_malformed_with_the_raw_reply_kept(reply):
    with judge_server(JudgeScript(raw_reply=reply)) as server, pytest.raises(JudgeMalformed) as caught:
        judge_sync("rubric", rag_span(ANSWER, question=QUESTION), rubric(), config_for(server))
    assert caught.value.raw == reply
    assert len(server.requests) == 1


def test_it_needs_a_rubric():
    target = rag_span(ANSWER, question=QUESTION)
    assert RUBRIC.applies(target)
    assert RUBRIC.applies(target, rubric())
    assert not RUBRIC.applies(target, EvalConfig())
    assert not RUBRIC.applies(EvalTarget(kind="llm", input_text=QUESTION))  # no output
    with pytest.raises(JudgeError, match="pass threshold"):
        judge_sync("rubric", target, rubric(pass_threshold=9), JudgeConfig("http://127.0.0.1:9/v1", "k", "m"))
