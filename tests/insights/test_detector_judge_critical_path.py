from insights.detectors import judge_critical_path as detector
from insights.detectors.types import TraceIndex
from tests.insights.spans import TraceBuilder

QUESTION = "How do I rotate my API key without downtime?"
CONTEXT = "Docs: Create a second key, deploy it, then revoke the first. Keys can overlap for up to 24 hours."
ANSWER = "Create a second key, deploy it everywhere, then revoke the old one: both work for up to 24 hours."
JUDGE_PROMPT = (
    "You are an impartial judge. Rate the faithfulness of the answer to the context on a scale of 1 to 5. "
    "Reply with JSON: {score, reason}."
)


def judges(spans):
    return detector.detect(TraceIndex(spans))


def rag_request(judge_at: float = 2.7, root_dur: float = 5.1, **judge_fields) -> TraceBuilder:
    t = TraceBuilder(service="docs-assistant")
    root = t.request("POST /v1/answer", dur=root_dur)
    t.span("retrieve_docs", at=0.0, dur=0.3, parent=root, kind="retriever", input_text=QUESTION, output_text=CONTEXT)
    t.llm(parent=root, at=0.3, dur=2.4, user=f"{CONTEXT}\n\nQuestion: {QUESTION}", output=ANSWER)
    judge_fields.setdefault("system", JUDGE_PROMPT)
    t.llm(
        parent=root,
        at=judge_at,
        dur=2.3,
        model="gpt-4o",
        user=f"Context: {CONTEXT}\nAnswer: {ANSWER}",
        output='{"score": 5, "reason": "fully supported"}',
        **judge_fields,
    )
    return t


def test_a_judge_after_the_answer_and_before_the_response_is_flagged():
    findings = judges(rag_request().spans)

    assert len(findings) == 1
    finding = findings[0]
    assert finding.detector == "judge_critical_path"
    assert finding.severity == "warning"
    assert finding.operation == "chat.completions"
    assert finding.parent_operation == "POST /v1/answer"
    assert finding.span_ids == ["0000000000000004"]
    assert finding.message == (
        'Root cause: evaluation on the critical path of "POST /v1/answer"\n'
        'The judge call "chat.completions" (gpt-4o) ran for 2.3s after the answer was ready and before the '
        "response returned. Evaluating in the background would save 2.3s per request."
    )
    labels = [s["label"] for s in finding.fix.snippets]
    assert "Python (FastAPI BackgroundTasks)" in labels
    assert "Python (Celery task)" in labels
    fastapi = finding.fix.snippets[0]
    assert '@app.post("/v1/answer")' in fastapi["after"]
    assert "background_tasks.add_task(judge_answer" in fastapi["after"]
    assert 'client.chat.completions.create(model="gpt-4o"' in fastapi["before"]


def test_a_judge_that_ran_after_the_response_is_not_flagged():
    # The request returned at 2.8 s; the judge ran in a background task until 5.0 s.
    assert judges(rag_request(judge_at=2.7, root_dur=2.8).spans) == []


def test_an_assistant_whose_job_mentions_evaluating_is_not_a_judge():
    t = rag_request(system="You are a helpful assistant that helps users evaluate apartment listings in Berlin.")

    assert judges(t.spans) == []


def test_an_offline_evaluation_run_judges_on_purpose():
    t = TraceBuilder(service="evals")
    root = t.span("run_eval golden-set", at=0.0, dur=5.0, kind="chain")
    t.llm(parent=root, at=0.0, dur=2.4, user=QUESTION, output=ANSWER)
    t.llm(parent=root, at=2.5, dur=2.3, model="gpt-4o", system=JUDGE_PROMPT, user=ANSWER, output="5")

    assert judges(t.spans) == []


def test_an_evaluator_span_and_the_llm_call_inside_it_are_one_judge():
    t = TraceBuilder(service="docs-assistant")
    root = t.request("POST /v1/chat", dur=4.0)
    t.llm(parent=root, at=0.0, dur=2.0, user=QUESTION, output=ANSWER)
    evaluator = t.span("faithfulness", at=2.0, dur=1.9, parent=root, kind="evaluator")
    t.llm(parent=evaluator, at=2.05, dur=1.8, model="gpt-4o-mini", system=JUDGE_PROMPT, user=ANSWER, output="4")

    findings = judges(t.spans)

    assert len(findings) == 1
    assert findings[0].operation == "faithfulness"
    assert findings[0].span_ids == [evaluator.span_id]


def test_the_sdks_own_judge_calls_are_judges_by_attribute():
    t = rag_request(system="Score 1-5.", attributes={"peekr.internal": True})

    assert len(judges(t.spans)) == 1


def test_a_verdict_followed_by_another_answer_may_gate_it_and_is_only_info():
    t = rag_request(root_dur=7.5)
    root = t.spans[0]
    t.llm(parent=root, at=5.0, dur=2.4, user=f"Improve the answer: {ANSWER}", output=ANSWER + " (revised)")

    finding = judges(t.spans)[0]

    assert finding.severity == "info"
    assert finding.details["may_gate_answer"] is True


def test_a_judge_running_beside_the_answer_is_a_guardrail_not_this_pathology():
    t = rag_request(judge_at=0.3)  # starts with the answer: nothing to judge yet

    assert judges(t.spans) == []
