"""What one judgement may send is capped (PEEKR_JUDGE_MAX_INPUT_CHARS): a huge prompt or document never becomes
a huge judge call, and the judge is told what was cut."""

from __future__ import annotations

import json

from evals.evaluators.types import EvalConfig, EvalTarget
from evals.judge_client import JudgeConfig, clip, clip_all, judge_context, judge_question
from evals.judges import judge_sync
from tests.judge_server import JudgeScript, judge_server, rag_span

SUPPORTED = "Paris is the capital of France."


def test_clip_keeps_the_head_or_the_tail_and_says_how_much_was_cut():
    text = "a" * 50 + "b" * 50
    head, tail = clip(text, 60), clip(text, 60, keep="tail")
    assert len(head) <= 60 and head.startswith("aaaa") and "characters cut" in head
    assert len(tail) <= 60 and tail.endswith("bbbb") and "characters cut" in tail
    assert clip("short", 60) == "short"
    assert clip(text, 10) == "a" * 10 and clip(text, 10, keep="tail") == "b" * 10  # no room for the marker


def test_clip_all_keeps_documents_in_order_until_the_budget_then_cuts():
    docs = ["x" * 300, "y" * 300, "z" * 300, "w" * 300]
    kept = clip_all(docs, 700)
    assert kept[0] == docs[0] and kept[1] == docs[1]
    assert kept[2].startswith("zzz") and "characters cut" in kept[2]
    assert "1 more documents cut" in kept[-1]
    assert sum(len(k) for k in kept) < 800
    assert clip_all(["a", "b"], 700) == ["a", "b"]


def test_the_question_keeps_its_end_and_the_context_fits_half_the_budget(settings):
    settings.PEEKR_JUDGE_MAX_INPUT_CHARS = 4_000
    prompt = "history " * 2_000 + "QUESTION: what is the capital of France?"
    target = EvalTarget(span_id="l1", kind="llm", input_text=prompt, output_text=SUPPORTED)
    assert judge_question(target).endswith("QUESTION: what is the capital of France?")
    assert len(judge_question(target)) <= 1_000
    assert sum(len(c) for c in judge_context(target)) <= 2_000


def test_a_huge_document_and_answer_make_a_bounded_judge_call(settings):
    settings.PEEKR_JUDGE_MAX_INPUT_CHARS = 8_000
    answer = SUPPORTED + " " + "It has many bridges. " * 5_000  # ~100 KB
    documents = ["Paris is the capital of France. " * 10_000, "France is in Europe."]  # ~320 KB
    script = JudgeScript(claims={SUPPORTED: True})
    with judge_server(script) as server:
        result = judge_sync(
            "faithfulness",
            rag_span(answer, documents=documents),
            EvalConfig(threshold=0.5),
            JudgeConfig(base_url=server.base_url, api_key="sk-test", model="gpt-4o-mini", timeout_s=5),
        )

    assert result.status == "done"
    assert len(server.requests) == 2
    for request in server.requests:
        sent = "".join(str(m["content"]) for m in request["body"]["messages"])
        # the cap plus ragas's own instructions and examples, not the 420 KB the span held
        assert len(sent) < 8_000 + 6_000, len(sent)
    nli_prompt = json.dumps(server.requests[1]["body"])
    assert "characters cut" in nli_prompt and "more documents cut" in nli_prompt
