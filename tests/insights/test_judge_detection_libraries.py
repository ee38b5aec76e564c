"""The judge detector knows the evaluation libraries people call inline: ragas, DeepEval, openevals and LangChain's
evaluators, by the prompts they really send (fixtures captured from the libraries themselves by
tests/fixtures/judges/capture.py) and by the span names their runs get; an app's own prompts that merely talk about
scores or evaluation are not judges."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from insights.detectors import judge_critical_path as detector
from insights.detectors import judge_signatures as signatures
from insights.detectors.types import TraceIndex
from tests.insights.spans import TraceBuilder

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "judges"
CAPTURED = sorted(FIXTURES.glob("*.json"))
LIBRARY = {
    "ragas": signatures.RAGAS,
    "deepeval": signatures.DEEPEVAL,
    "openevals": signatures.OPENEVALS,
    "langchain-classic": signatures.LANGCHAIN,
}
QUESTION = "How do I rotate my API key without downtime?"
CONTEXT = "Create a second key, deploy it, then revoke the first. Both keys work for up to 24 hours."
ANSWER = "Create a second key, deploy it everywhere, then revoke the old one: both work for up to 24 hours."


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def judge_calls(fixture: dict) -> list[tuple[list[dict], str]]:
    """(messages, the capture server's reply) of each distinct prompt (a library's retries repeat one with the error
    appended)."""
    seen, calls = set(), []
    for request in fixture["requests"]:
        key = json.dumps(request["messages"][:2])
        if key not in seen:
            seen.add(key)
            calls.append((request["messages"], request["reply"]["content"] or ""))
    return calls


def inline_request(fixture: dict, *, root: str = "POST /v1/answer", judge_dur: float = 0.8) -> TraceBuilder:
    """An HTTP request that retrieves, answers, then runs the library's metric before returning."""
    t = TraceBuilder(service="docs-assistant")
    calls = judge_calls(fixture)
    total = 0.3 + 2.0 + judge_dur * len(calls) + 0.05
    top = t.request(root, dur=total) if root.startswith("POST ") else t.span(root, at=0.0, dur=total, kind="chain")
    t.span("retrieve_docs", at=0.0, dur=0.3, parent=top, kind="retriever", input_text=QUESTION, output_text=CONTEXT)
    t.llm(parent=top, at=0.3, dur=2.0, system="You answer questions about our API from the docs.",
          user=f"{CONTEXT}\n\nQuestion: {QUESTION}", output=ANSWER)  # fmt: skip
    at = 2.3
    for messages, reply in calls:
        t.llm(parent=top, at=at, dur=judge_dur, model=fixture["requests"][0]["model"], messages=messages,
              output=reply)  # fmt: skip
        at += judge_dur
    return t


def findings(t: TraceBuilder):
    return detector.detect(TraceIndex(t.spans))


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.stem)
def test_every_captured_prompt_is_the_librarys_judge(path):
    fixture = load(path)
    assert fixture["outcome"].startswith("ok"), "the capture should have run the metric to its end"
    for messages, _ in judge_calls(fixture):
        assert detector._prompt_library(messages) == LIBRARY[fixture["package"]], messages[-1]["content"][:200]


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.stem)
def test_a_library_judge_inline_before_the_response_is_flagged_and_named(path):
    fixture = load(path)
    t = inline_request(fixture)
    judge_ids = [s.span_id for s in t.spans[3:]]

    found = findings(t)

    assert len(found) == 1
    finding = found[0]
    library = LIBRARY[fixture["package"]]
    assert finding.parent_operation == "POST /v1/answer"
    assert finding.span_ids == judge_ids  # every step of the metric, the statement extraction included
    assert finding.details["library"] == library
    assert f"The {library} judge " in finding.message
    assert finding.saving_ms == pytest.approx(800.0 * len(judge_ids))


@pytest.mark.parametrize("root", ["ragas evaluation", "run_eval golden-set", "pytest tests/test_rag_quality.py"])
@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.stem)
def test_the_same_judge_in_an_offline_eval_run_is_not_flagged(path, root):
    assert findings(inline_request(load(path), root=root)) == []


def test_a_ragas_metric_span_wrapping_its_calls_is_one_judge_named_after_the_metric():
    # ragas.evaluate's callbacks, traced by a LangChain instrumentation: a "faithfulness" chain around the calls.
    fixture = load(FIXTURES / "ragas_evaluate_faithfulness.json")
    t = TraceBuilder(service="docs-assistant")
    root = t.request(dur=4.0)
    t.llm(parent=root, at=0.0, dur=2.0, user=QUESTION, output=ANSWER)
    metric = t.span("faithfulness", at=2.0, dur=1.9, parent=root, kind="chain")
    for i, (messages, reply) in enumerate(judge_calls(fixture)):
        t.llm(parent=metric, at=2.05 + i * 0.9, dur=0.85, messages=messages, output=reply)

    (finding,) = findings(t)

    assert finding.operation == "faithfulness"
    assert finding.span_ids == [metric.span_id]
    assert finding.details["library"] == "ragas"


@pytest.mark.parametrize(
    ("name", "library"),
    [
        ("Correctness (GEval)", signatures.DEEPEVAL),
        ("Answer Relevancy", signatures.DEEPEVAL),
        ("LabeledCriteriaEvalChain", signatures.LANGCHAIN),
        ("QAEvalChain", signatures.LANGCHAIN),
        ("llm_as_correctness_judge", signatures.OPENEVALS),
        ("answer_relevancy", signatures.RAGAS),
    ],
)
def test_a_library_run_is_a_judge_by_its_span_name_whatever_its_prompt(name, library):
    # A prompt of the user's own (a custom criterion), so only the name tells.
    t = TraceBuilder(service="docs-assistant")
    root = t.request(dur=4.0)
    t.llm(parent=root, at=0.0, dur=2.0, user=QUESTION, output=ANSWER)
    run = t.span(name, at=2.0, dur=1.9, parent=root, kind="chain")
    t.llm(parent=run, at=2.05, dur=1.8, user=f"Is this friendly? {ANSWER}", output="Y")

    (finding,) = findings(t)

    assert finding.span_ids == [run.span_id]
    assert finding.details["library"] == library


def test_an_app_step_named_like_a_metric_that_calls_no_model_is_not_a_judge():
    t = TraceBuilder(service="docs-assistant")
    root = t.request(dur=4.0)
    t.llm(parent=root, at=0.0, dur=2.0, user=QUESTION, output=ANSWER)
    t.span("faithfulness", at=2.0, dur=1.9, parent=root, kind="chain")  # a local NLI model, say

    assert findings(t) == []


def test_openevals_is_a_judge_by_its_langsmith_metadata():
    t = TraceBuilder(service="docs-assistant")
    root = t.request(dur=4.0)
    t.llm(parent=root, at=0.0, dur=2.0, user=QUESTION, output=ANSWER)
    t.llm(parent=root, at=2.0, dur=1.9, name="ChatOpenAI", user=f"Is this concise? {ANSWER}", output="{}",
          attributes={"langsmith.metadata.__ls_evaluator": "llm_as_conciseness_judge",
                      "langsmith.metadata.__ls_framework": "openevals"})  # fmt: skip

    (finding,) = findings(t)

    assert finding.details["library"] == "openevals"


def test_a_hand_written_judge_sent_as_the_only_user_message_is_a_judge():
    t = TraceBuilder(service="docs-assistant")
    root = t.request(dur=4.0)
    t.llm(parent=root, at=0.0, dur=2.0, user=QUESTION, output=ANSWER)
    t.llm(parent=root, at=2.0, dur=1.9, output="4",
          user=f"Rate the faithfulness of the answer below to the context, 1 to 5.\nContext: {CONTEXT}\n"
               f"Answer: {ANSWER}")  # fmt: skip

    (finding,) = findings(t)

    assert finding.details["library"] == ""
    assert finding.message.split("\n")[1].startswith("The judge call ")


# An app's own prompts: they score, evaluate, grade or assess things, but not the model's answer.
APP_PROMPTS = [
    (
        "system",
        "You are a sales assistant. Score each inbound lead from 1 to 10 on fit and urgency, and output a "
        "JSON object with the score and a one-line reason.",
    ),
    (
        "system",
        "You are an HR screening assistant. Evaluate the following candidate's CV against the job "
        "description and output a JSON with a score from 1-10 and the three strongest matches.",
    ),
    (
        "system",
        "You are a tutor. When the student shares their answer to a quiz question, explain the idea behind "
        "it step by step; never just give the correct answer.",
    ),
    (
        "system",
        "You are a credit advisor. Explain the applicant's credit score, what lowers it and how to improve "
        "it within a year.",
    ),
    (
        "user",
        "Summarise this customer review in one sentence and rate the product's quality from 1 to 5:\n"
        "The blender is loud but crushes ice in seconds. The lid cracked after two weeks.",
    ),
    ("user", "Can you evaluate my business plan? We sell refurbished laptops to schools; margins are 18%."),
    ("user", "Please grade my essay on the French Revolution and tell me how to get a better score next time."),
    ("user", "How do I evaluate whether the response time of my API is good enough? p95 is 800 ms."),
]


@pytest.mark.parametrize(("role", "prompt"), APP_PROMPTS, ids=lambda v: v[:40] if len(v) > 8 else v)
def test_an_apps_own_prompt_about_scores_or_evaluation_is_not_a_judge(role, prompt):
    t = TraceBuilder(service="assistant")
    root = t.request(dur=4.5)
    t.llm(parent=root, at=0.0, dur=2.0, user=QUESTION, output=ANSWER)
    messages = [{"role": role, "content": prompt}] + ([{"role": "user", "content": TICKET}] if role == "system" else [])
    t.llm(parent=root, at=2.1, dur=2.3, messages=messages, output='{"score": 7, "reason": "strong fit"}')

    assert findings(t) == []


TICKET = "Acme GmbH, 40 seats, asked for a demo next week and a quote for the Business plan."


def test_the_app_prompts_are_negatives_only_for_their_wording():
    # The same trace with a judge's wording in that place is flagged: the negatives above fail for the right reason.
    t = TraceBuilder(service="assistant")
    root = t.request(dur=4.5)
    t.llm(parent=root, at=0.0, dur=2.0, user=QUESTION, output=ANSWER)
    t.llm(parent=root, at=2.1, dur=2.3, messages=[{"role": "user", "content": "Grade the answer below: " + ANSWER}],
          output="CORRECT")  # fmt: skip

    assert len(findings(t)) == 1


def test_library_phrases_are_found_in_the_scanned_head_only():
    fixture = load(FIXTURES / "langchain_qa.json")
    ((messages, _),) = judge_calls(fixture)
    pushed = [{"role": "user", "content": "x" * signatures.LIBRARY_HEAD_CHARS + messages[0]["content"]}]

    assert detector._prompt_library(messages) == signatures.LANGCHAIN
    assert detector._prompt_library(pushed) == ""


# --- through the real OpenTelemetry SDK, OTLP/HTTP and the Celery worker -------------------------------------


def send_ragas_inline(live_server, key: str) -> str:
    """An app answering over HTTP that runs ragas' faithfulness (the captured calls) before it returns."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind, set_span_in_context

    def chat(messages, answer):
        parts = [{"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in messages]
        return {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 900, "gen_ai.usage.output_tokens": 60,
            "gen_ai.input.messages": json.dumps(parts),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": answer}],
                                                  "finish_reason": "stop"}]),
        }  # fmt: skip

    provider = TracerProvider(resource=Resource.create({"service.name": "docs-assistant"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces", headers={"Authorization": f"Bearer {key}"})))  # fmt: skip
    tracer = provider.get_tracer("docs-assistant")
    ns = int((time.time() - 30) * 1e9)
    s = 1_000_000_000
    root = tracer.start_span("POST /v1/answer", kind=SpanKind.SERVER, start_time=ns,
                             attributes={"http.request.method": "POST", "http.route": "/v1/answer"})  # fmt: skip
    ctx = set_span_in_context(root)
    answer = tracer.start_span(
        "chat gpt-4o-mini",
        context=ctx,
        kind=SpanKind.CLIENT,
        start_time=ns,
        attributes=chat([{"role": "user", "content": f"{CONTEXT}\n\n{QUESTION}"}], ANSWER),
    )
    answer.end(end_time=ns + 2 * s)
    at = ns + 2 * s
    for messages, reply in judge_calls(load(FIXTURES / "ragas_faithfulness.json")):
        judge = tracer.start_span("chat gpt-4o-mini", context=ctx, kind=SpanKind.CLIENT, start_time=at,
                                  attributes=chat(messages, reply))  # fmt: skip
        judge.end(end_time=at + s)
        at += s
    root.end(end_time=at + s // 10)
    trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


@pytest.mark.worker
def test_ragas_inline_sent_over_otlp_is_flagged_by_the_worker(live_server, celery_worker_process, project, api_key):
    from insights.models import Finding
    from traces.models import Trace

    trace_id = send_ragas_inline(live_server, api_key)

    trace = Trace.objects.get(project=project, trace_id=trace_id)
    deadline = time.time() + 45
    while not Finding.objects.filter(trace=trace).exists() and time.time() < deadline:
        time.sleep(0.25)
    time.sleep(0.5)  # the detection stage writes its findings in one transaction; let it finish
    found = {f.detector: f for f in Finding.objects.filter(trace=trace)}
    assert found, f"no finding within 45 s; worker log:\n{celery_worker_process.log_path.read_text()[-3000:]}"
    judge = found["judge_critical_path"]
    assert judge.details["library"] == "ragas"
    assert "The ragas judge 2 calls" in judge.message
    assert judge.endpoint == "POST /v1/answer"
    assert judge.saving_ms == pytest.approx(2000.0, abs=5)
    # ragas' two faithfulness steps depend on each other (verdicts on the extracted statements): not "sequential"
    assert "sequential_execution" not in found
