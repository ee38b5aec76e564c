"""peekr_demo sends its day of traffic through the OpenTelemetry SDK to a live server; we check what was stored."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.base import make_project
from traces.models import ApiKey, Project, Span, Trace

pytestmark = pytest.mark.django_db(transaction=True)

ROOTS = {
    "rag.answer",
    "weather-agent",
    "POST /v1/answer",
    "POST /v1/triage",
    "doc-researcher",
    "POST /v1/summarize",
    "summarize-thread",
    "weekly-digest",
}


@pytest.fixture
def demo(live_server):
    """Send the demo's core (every scenario once, 22 traces) to a fresh project; returns (project, output)."""
    project, key = make_project("demo-target")
    out = StringIO()
    call_command("peekr_demo", endpoint=live_server.url, key=key, traces=22, stdout=out)
    return project, out.getvalue()


def spans_of(trace: Trace) -> list[Span]:
    return list(trace.spans.order_by("start_time"))


def test_it_sends_every_scenario_and_reports_what_was_stored(demo, live_server):
    project, output = demo
    traces = Trace.objects.filter(project=project)
    spans = Span.objects.filter(project=project)
    assert output.strip().startswith(
        f"sent {traces.count()} traces / {spans.count()} spans to {live_server.url}/v1/traces"
    )
    assert traces.count() >= 22
    assert set(traces.values_list("name", flat=True)) == ROOTS
    assert set(traces.values_list("service_name", flat=True)) == {"support-bot", "research-agent", "answer-api"}
    # Spread over the last day, so lists and dashboards have a history.
    first, last = traces.order_by("start_time")[0], traces.order_by("-start_time")[0]
    assert (last.start_time - first.start_time).total_seconds() > 20 * 3600
    # Every span found its parent in the same trace: the SDK's contexts were wired right.
    ids = set(spans.values_list("span_id", flat=True))
    assert {p for p in spans.values_list("parent_span_id", flat=True) if p} <= ids


def test_the_retriever_returns_three_scored_documents(demo):
    project, _ = demo
    retrievers = Span.objects.filter(project=project, kind="retriever")
    assert retrievers.exists()
    for span in retrievers:
        docs = span.documents
        assert len(docs) == 3
        assert all(d["id"].startswith("kb-") and d["content"] and 0 < d["score"] < 1 for d in docs)
        assert [d["score"] for d in docs] == sorted((d["score"] for d in docs), reverse=True)
        llm = Span.objects.get(trace=span.trace, kind="llm")
        assert docs[0]["content"] in llm.input_messages[0]["content"]  # the docs went into the system prompt


def test_a_session_has_several_turns_and_later_turns_carry_the_history(demo):
    project, _ = demo
    session = Trace.objects.filter(project=project, name="rag.answer").values_list("session_id", flat=True).first()
    turns = list(Trace.objects.filter(project=project, session_id=session).order_by("start_time"))
    assert len(turns) >= 2
    assert len({t.user_id for t in turns}) == 1 and turns[0].user_id
    first_q = Span.objects.get(trace=turns[0], kind="llm").input_text
    later = Span.objects.get(trace=turns[-1], kind="llm")
    assert first_q in [m["content"] for m in later.input_messages if m["role"] == "user"][:-1]
    assert [m["role"] for m in later.input_messages[:3]] == ["system", "user", "assistant"]


def test_a_tool_returning_null_is_followed_by_a_model_call_that_receives_it(demo):
    project, _ = demo
    tool = Span.objects.filter(project=project, kind="tool", tool_name="lookup_forecast", tool_result="null").first()
    assert tool is not None
    assert tool.tool_arguments and '"days":3' in tool.tool_arguments
    after = [s for s in spans_of(tool.trace) if s.kind == "llm" and s.start_time >= tool.end_time]
    assert len(after) == 1
    results = [m for m in after[0].input_messages if m["role"] == "tool"]
    assert {m.get("tool_call_id") for m in results} == {"call_1", "call_2"}
    assert next(m for m in results if m["tool_call_id"] == "call_2")["content"] in ("null", "", None)
    assert "couldn't get the forecast" in after[0].output_text
    first = [s for s in spans_of(tool.trace) if s.kind == "llm"][0]
    assert [c["name"] for c in first.output_messages[0]["tool_calls"]] == ["get_weather", "lookup_forecast"]


def test_errors_are_stored_with_their_exception(demo):
    project, _ = demo
    failed_call = Span.objects.filter(
        project=project, kind="llm", status="error", error__contains="InternalServerError"
    )
    assert failed_call.exists()
    assert failed_call[0].trace.status == "error"
    assert failed_call[0].events[0]["name"] == "exception"
    failed_tool = Span.objects.get(project=project, kind="tool", status="error")
    assert "ReadTimeout" in failed_tool.error
    # The retry storm: four 429s, then one success, in order.
    storm = Trace.objects.get(project=project, name="POST /v1/summarize")
    calls = [s for s in spans_of(storm) if s.kind == "llm"]
    assert [s.status for s in calls] == ["error"] * 4 + ["unset"]
    assert all("RateLimitError" in s.error for s in calls[:4])


def test_model_calls_have_tokens_and_cost(demo):
    project, _ = demo
    calls = Span.objects.filter(project=project, kind="llm", status="unset")
    assert calls.count() > 20
    assert not calls.filter(input_tokens__isnull=True).exists()
    assert not calls.filter(cost__isnull=True).exists()
    assert all(c.cost > 0 and c.output_tokens > 0 for c in calls)
    assert Trace.objects.filter(project=project, cost__gt=0).count() >= 20
    hotspot = Span.objects.get(project=project, trace__name="weekly-digest", model="gpt-4o")
    cheap = Span.objects.filter(trace=hotspot.trace, model="gpt-4o-mini")
    assert hotspot.input_tokens > 12_000 and hotspot.cost > sum(c.cost for c in cheap)


def test_the_judge_runs_after_the_answer_on_the_request_path(demo):
    project, _ = demo
    slow = Trace.objects.get(project=project, name="POST /v1/answer", duration_ms__gt=10_000)
    assert slow.duration_ms < 11_000
    root, answer, judge = spans_of(slow)
    assert root.otel_kind == 2 and root.attributes["http.route"] == "/v1/answer"
    assert (answer.model, judge.model) == ("gpt-4o", "gpt-4o-mini")
    assert judge.start_time >= answer.end_time
    assert round(answer.duration_ms) == 4800 and round(judge.duration_ms) == 5700
    assert judge.input_messages[0]["content"].startswith("You are a grader")
    # The Traceloop variant: two independent calls one after the other.
    triage = Trace.objects.get(project=project, name="POST /v1/triage")
    first, second = (s for s in spans_of(triage) if s.kind == "llm")
    assert (first.name, second.name) == ("openai.chat", "openai.chat")
    assert second.start_time >= first.end_time
    assert (round(first.duration_ms), round(second.duration_ms)) == (5700, 4800)


def test_the_loop_repeats_the_same_tool_and_model_with_growing_input(demo):
    project, _ = demo
    loop = Trace.objects.get(project=project, name="doc-researcher")
    steps = [s for s in spans_of(loop) if s.parent_span_id]
    assert [s.name for s in steps] == [
        "execute_tool search_docs",
        "embeddings text-embedding-3-small",
        "chat gpt-4o-mini",
    ] * 15
    assert all(a.end_time <= b.start_time for a, b in zip(steps, steps[1:], strict=False))
    tokens = [s.input_tokens for s in steps if s.kind == "llm"]
    assert tokens == sorted(tokens) and tokens[-1] > 2 * tokens[0]


def test_the_same_prompt_sent_twice(demo):
    project, _ = demo
    first, second = Span.objects.filter(project=project, trace__name="summarize-thread", kind="llm")
    assert first.input_messages == second.input_messages


def test_a_project_name_gets_a_fresh_key(live_server):
    project, _ = make_project("existing")
    out = StringIO()
    call_command("peekr_demo", endpoint=live_server.url, project="existing", traces=1, stdout=out)
    assert ApiKey.objects.filter(project=project).count() == 2
    assert Trace.objects.filter(project=project).count() >= 22

    call_command("peekr_demo", endpoint=live_server.url, project="brand-new", traces=1, stdout=StringIO())
    assert Trace.objects.filter(project=Project.objects.get(name="brand-new")).exists()


def test_a_wrong_key_or_endpoint_fails_fast_with_a_message(live_server):
    with pytest.raises(CommandError, match="refused the key"):
        call_command("peekr_demo", endpoint=live_server.url, key="pk_wrong", stdout=StringIO())
    with pytest.raises(CommandError, match="cannot reach"):
        call_command("peekr_demo", endpoint="http://127.0.0.1:9", key="pk_wrong", stdout=StringIO())
