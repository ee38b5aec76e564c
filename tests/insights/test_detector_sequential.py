from datetime import UTC, datetime, timedelta

import pytest

from insights.detectors import detect_all, normalise_operation, signature, span_view_from_row
from insights.detectors import sequential as detector
from insights.detectors.types import SpanView, TraceIndex, format_seconds
from tests.insights.spans import TICKET, TraceBuilder, seed_trace, staircase_trace

SEED_MESSAGE = (
    'Root cause: sequential execution of "chat.completions"\n'
    "2 spans ran one after another. Total: 10.5s, slowest single: 5.7s. Running them concurrently would save 4.8s."
)


def sequential(spans):
    return detector.detect(TraceIndex(spans))


def test_the_seed_example_gives_the_exact_message():
    findings = detect_all(seed_trace().spans)

    assert len(findings) == 1
    finding = findings[0]
    assert finding.detector == "sequential_execution"
    assert finding.message == SEED_MESSAGE
    assert finding.title == 'Sequential execution of "chat.completions"'
    assert finding.operation == "chat.completions"
    assert finding.parent_operation == "POST /v1/answer"
    assert finding.service == "support-api"
    assert finding.saving_ms == pytest.approx(4800, abs=0.01)
    assert finding.saving_usd == 0
    assert finding.severity == "warning"
    assert finding.span_ids == ["0000000000000002", "0000000000000003"]
    assert finding.details["total_ms"] == pytest.approx(10500, abs=0.01)
    assert finding.details["slowest_ms"] == pytest.approx(5700, abs=0.01)


def test_the_signature_is_the_same_for_the_same_pathology_in_another_trace():
    first = sequential(seed_trace().spans)[0]
    other = sequential(seed_trace().spans)[0]

    assert first.signature == other.signature
    assert first.signature == signature("sequential_execution", "chat.completions", "POST /v1/answer", "support-api")
    assert len(first.signature) == 32
    assert sequential(seed_trace(service="billing-api").spans)[0].signature != first.signature


def test_a_fifteen_step_embed_then_extract_staircase_is_one_finding():
    findings = detect_all(staircase_trace().spans)

    assert [f.detector for f in findings] == ["sequential_execution"]
    finding = findings[0]
    assert finding.operation == "embeddings -> chat.completions"
    assert finding.message == (
        'Root cause: sequential execution of "embeddings -> chat.completions"\n'
        "15 iterations ran one after another. Total: 279.0s, slowest single: 37.0s. "
        "Running them concurrently would save 242.0s."
    )
    assert finding.details["count"] == 15
    assert len(finding.span_ids) == 30
    assert finding.parent_operation == "ingest_contract"
    assert finding.severity == "critical"


def test_a_staircase_of_any_length_is_found():
    assert "3 iterations ran one after another" in sequential(staircase_trace(iterations=3).spans)[0].message
    assert "40 iterations ran one after another" in sequential(staircase_trace(iterations=40).spans)[0].message


def test_a_second_call_that_uses_the_first_calls_output_is_not_flagged():
    t = TraceBuilder()
    root = t.request(dur=9.0)
    summary = (
        "The customer was charged twice for one Pro subscription this month and asks for a refund of the duplicate."
    )
    t.llm(parent=root, at=0.0, dur=4.0, system="Summarise the ticket.", user=TICKET, output=summary)
    t.llm(
        parent=root,
        at=4.0,
        dur=4.5,
        system="Draft a polite reply to the customer.",
        user=f"Ticket summary:\n{summary}\n\nWrite the reply.",
        output="Hello! I'm sorry about the double charge...",
    )

    assert sequential(t.spans) == []


def test_a_dependency_is_found_through_whitespace_and_case_differences():
    t = TraceBuilder()
    root = t.request(dur=9.0)
    answer = "Paris is the capital of France and its largest city, on the Seine."
    t.llm(parent=root, at=0.0, dur=4.0, user="What is the capital of France?", output=answer)
    t.llm(parent=root, at=4.0, dur=4.0, user="Translate to German:\n\n" + answer.upper().replace(" ", "\n  "))

    assert sequential(t.spans) == []


def test_calls_that_already_overlap_are_not_flagged():
    t = TraceBuilder()
    root = t.request(dur=6.0)
    t.llm(parent=root, at=0.0, dur=5.7, user="Summarise: " + TICKET, output="A double charge, refund asked.")
    t.llm(parent=root, at=0.2, dur=4.8, user="Classify: " + TICKET, output="P2 | Billing")

    assert sequential(t.spans) == []


def test_clock_jitter_of_a_few_milliseconds_still_reads_as_one_after_another():
    t = TraceBuilder()
    root = t.request(dur=10.6)
    t.llm(parent=root, at=0.0, dur=5.7, user="Summarise: " + TICKET, output="A double charge, refund asked.")
    t.llm(parent=root, at=5.697, dur=4.8, user="Classify: " + TICKET, output="P2 | Billing")

    assert len(sequential(t.spans)) == 1


def test_an_agent_step_that_uses_a_tool_result_is_not_flagged():
    t = TraceBuilder()
    root = t.request(dur=7.0)
    t.llm(parent=root, at=0.0, dur=2.0, user="What's the weather in Paris?", output='get_weather({"city": "Paris"})')
    result = '{"city": "Paris", "temperature_c": 18, "conditions": "light rain"}'
    t.tool("get_weather", parent=root, at=2.0, dur=0.3, arguments='{"city": "Paris"}', result=result)
    t.llm(parent=root, at=2.3, dur=2.5, user=f"Weather data: {result}\nAnswer the question.", output="18 °C, rain.")

    assert sequential(t.spans) == []


def test_an_agent_step_that_continues_the_conversation_is_not_flagged():
    t = TraceBuilder()
    root = t.request(dur=7.0)
    first = [{"role": "system", "content": "You are a travel agent."}, {"role": "user", "content": "Plan Lisbon."}]
    t.llm(parent=root, at=0.0, dur=3.0, messages=first, output="")
    t.llm(parent=root, at=3.0, dur=3.0, messages=[*first, {"role": "assistant", "content": "Day 1: Alfama."}])

    assert sequential(t.spans) == []


def test_a_retry_of_the_same_request_is_not_sequential_work():
    t = TraceBuilder()
    root = t.request(dur=12.0)
    t.llm(parent=root, at=0.0, dur=5.0, user="Summarise: " + TICKET, status="error", error="APITimeoutError")
    t.llm(parent=root, at=5.0, dur=5.0, user="Summarise: " + TICKET, output="A double charge.")

    assert sequential(t.spans) == []


def test_small_savings_are_noise():
    t = TraceBuilder()
    root = t.request(dur=0.5)
    t.llm(parent=root, at=0.0, dur=0.2, user="Summarise: " + TICKET, output="A double charge, refund asked.")
    t.llm(parent=root, at=0.2, dur=0.2, user="Classify: " + TICKET, output="P2 | Billing")

    assert sequential(t.spans) == []


def test_a_long_call_next_to_a_short_one_saves_too_little_of_the_total():
    t = TraceBuilder()
    root = t.request(dur=21.0)
    t.llm(parent=root, at=0.0, dur=20.0, user="Summarise: " + TICKET, output="A double charge, refund asked.")
    t.llm(parent=root, at=20.0, dur=0.9, user="Classify: " + TICKET, output="P2 | Billing")

    assert sequential(t.spans) == []  # 0.9 s saved is 4% of 20.9 s


def test_calls_of_one_operation_with_an_unrelated_call_between_them_are_found():
    t = TraceBuilder()
    root = t.request(dur=10.0)
    t.llm(parent=root, at=0.0, dur=3.0, user="Summarise: " + TICKET, output="A double charge, refund asked.")
    t.tool("lookup_customer", parent=root, at=3.0, dur=0.5, arguments='{"email": "a@b.c"}', result='{"plan": "pro"}')
    t.llm(parent=root, at=3.5, dur=3.0, user="Classify: " + TICKET, output="P2 | Billing")

    findings = sequential(t.spans)

    assert len(findings) == 1
    assert "2 spans ran one after another. Total: 6.0s, slowest single: 3.0s" in findings[0].message


def test_wrappers_around_llm_calls_are_grouped_like_the_calls():
    t = TraceBuilder()
    root = t.span("summarise_reviews", at=0.0, dur=12.1, kind="chain")
    for i in range(4):
        step = t.span("summarise_review", at=i * 3.0, dur=3.0, parent=root)
        t.llm(parent=step, at=i * 3.0 + 0.1, dur=2.8, user=f"Summarise review {i}: great phone but battery {i}h")

    findings = sequential(t.spans)

    assert len(findings) == 1
    assert findings[0].operation == "summarise_review"
    assert "4 spans ran one after another. Total: 12.0s, slowest single: 3.0s" in findings[0].message


def test_the_shown_figures_are_rounded_so_that_the_arithmetic_holds():
    t = TraceBuilder()
    root = t.request(dur=10.6)
    t.llm(parent=root, at=0.0, dur=5.74, user="Summarise: " + TICKET, output="A double charge, refund asked.")
    t.llm(parent=root, at=5.74, dur=4.72, user="Classify: " + TICKET, output="P2 | Billing")

    finding = sequential(t.spans)[0]

    assert "Total: 10.5s, slowest single: 5.7s. Running them concurrently would save 4.8s." in finding.message
    assert finding.saving_ms == pytest.approx(4720, abs=0.01)


@pytest.mark.parametrize(
    ("ms", "text"), [(5749, "5.7s"), (5750, "5.8s"), (4800, "4.8s"), (279_000, "279.0s"), (40, "0.0s")]
)
def test_seconds_have_one_decimal_rounded_half_up(ms, text):
    assert format_seconds(ms) == text


def test_a_javascript_service_gets_the_promise_all_fix_only():
    spans = seed_trace(attributes={"telemetry.sdk.language": "nodejs"}).spans

    fix = sequential(spans)[0].fix

    assert [s["label"] for s in fix.snippets] == ["JavaScript (Promise.all)"]
    assert "Promise.all" in fix.snippets[0]["after"]


@pytest.mark.parametrize(
    ("name", "kw", "operation"),
    [
        ("openai.chat.completions", {}, "chat.completions"),
        ("openai.chat", {}, "chat.completions"),
        ("ChatCompletion", {}, "chat.completions"),
        ("chat gpt-4o-mini", {"model": "gpt-4o-mini"}, "chat.completions"),
        ("chat.completions.create", {}, "chat.completions"),
        ("openai.chat.completions.create", {}, "chat.completions"),
        ("anthropic.messages", {"provider": "anthropic"}, "chat.completions"),
        ("litellm.completion", {}, "chat.completions"),
        ("bedrock.converse_stream", {}, "chat.completions"),
        ("langchain.chat.ChatOpenAI", {}, "chat.completions"),
        ("AzureChatOpenAI", {}, "chat.completions"),
        ("ChatOpenAI.chat", {}, "chat.completions"),
        ("ai.generateText", {}, "chat.completions"),
        ("embeddings text-embedding-3-small", {}, "embeddings"),
        ("CreateEmbeddings", {}, "embeddings"),
        ("openai.embeddings", {}, "embeddings"),
        ("OpenAIEmbeddings", {}, "embeddings"),
        ("execute_tool get_weather", {}, "tool get_weather"),
        ("tool.get_weather", {"kind": "tool", "tool_name": "get_weather"}, "tool get_weather"),
        ("invoke_agent Travel planner", {}, "agent Travel planner"),
        ("openai.responses.create", {}, "responses"),
        ("summarise_ticket gpt-4o", {"model": "gpt-4o"}, "summarise_ticket"),
        ("RunnableSequence.workflow", {}, "RunnableSequence"),
        ("GET /v1/orders/48213/items", {}, "GET /v1/orders/{id}/items"),
        ("POST /v1/answer?debug=1", {}, "POST /v1/answer"),
        ("retrieve_documents", {}, "retrieve_documents"),
    ],
)
def test_operation_names_are_normalised(name, kw, operation):
    assert normalise_operation(name, **kw) == operation


def test_a_storage_row_becomes_a_span_view_in_epoch_milliseconds():
    start = datetime(2025, 10, 9, 12, 0, 0, tzinfo=UTC)
    row = {
        "span_id": "a1",
        "parent_span_id": "",
        "name": "openai.chat.completions",
        "kind": "llm",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "start_time": start,
        "end_time": start + timedelta(milliseconds=5700),
        "duration_ms": None,
        "status": "ok",
        "error": "",
        "input_text": "hi",
        "output_text": "hello",
        "input_messages": [{"role": "user", "content": "hi"}],
        "tool_name": "",
        "tool_arguments": "",
        "tool_result": "",
        "input_tokens": 3,
        "output_tokens": 2,
        "cost": 0.00001,
        "service_name": "api",
        "attributes": {},
    }

    span = span_view_from_row(row)

    assert span.parent_span_id is None
    assert span.start_ms == start.timestamp() * 1000
    assert span.end_ms - span.start_ms == pytest.approx(5700)
    assert span.duration_ms == pytest.approx(5700)
    assert span.input_messages == ({"role": "user", "content": "hi"},)
    naive = span_view_from_row({**row, "start_time": start.replace(tzinfo=None), "end_time": None})
    assert naive.start_ms == span.start_ms
    assert naive.end_ms is None


def test_detect_all_returns_nothing_for_an_empty_trace():
    assert detect_all([]) == []


def agent_with_tools(parallel_request: bool) -> TraceBuilder:
    """A weather agent. Either each tool call follows the model call that asked for it (a loop), or the model
    asked for three cities at once and the app ran the three tool calls one after another."""
    t = TraceBuilder(service="travel-bot")
    root = t.request("POST /v1/chat", dur=12.0)
    cities = ["Porto", "Lisbon", "Faro"]
    if parallel_request:
        asked = "\n".join(f'get_forecast({{"city": "{c}"}})' for c in cities)
        t.llm(parent=root, at=0.0, dur=1.5, user="Compare the weekend in Porto, Lisbon and Faro.", output=asked)
        for i, city in enumerate(cities):
            t.tool("get_forecast", parent=root, at=1.5 + i * 2.0, dur=2.0, arguments=f'{{"city": "{city}"}}',
                   result=f'{{"city": "{city}", "saturday": "sunny, 24 C", "sunday": "cloudy, {20 + i} C"}}')  # fmt: skip
        return t
    at = 0.0
    messages = [{"role": "user", "content": "Which of Porto, Lisbon and Faro is warmest this weekend?"}]
    for i, city in enumerate(cities):
        t.llm(parent=root, at=at, dur=1.0, messages=list(messages), output=f'get_forecast({{"city": "{city}"}})')
        result = f'{{"city": "{city}", "saturday": "sunny, 24 C", "sunday": "cloudy, {20 + i} C"}}'
        t.tool("get_forecast", parent=root, at=at + 1.0, dur=2.0, arguments=f'{{"city": "{city}"}}', result=result)
        messages += [{"role": "assistant", "content": f"checking {city}"}, {"role": "tool", "content": result}]
        at += 3.0
    return t


def test_tool_calls_in_an_agent_loop_are_not_sequential():
    # Each tool call follows the model call that asked for it, and each model call read the last result.
    assert sequential(agent_with_tools(parallel_request=False).spans) == []


def test_tool_calls_asked_for_at_once_but_run_one_by_one_are_sequential():
    findings = sequential(agent_with_tools(parallel_request=True).spans)

    assert len(findings) == 1
    assert findings[0].operation == "tool get_forecast"
    assert "3 spans ran one after another. Total: 6.0s, slowest single: 2.0s" in findings[0].message
    assert "get_forecast(arguments_for(item))" in findings[0].fix.snippets[0]["after"]


def test_detect_all_copes_with_a_parent_cycle_and_open_spans():
    t = seed_trace()
    t.span("a", at=1.0, dur=None, parent=t.spans[0], kind="chain")
    looped = t.spans + [
        SpanView(span_id="x", parent_span_id="y", name="x", kind="agent", start_ms=1.0, end_ms=2.0),
        SpanView(span_id="y", parent_span_id="x", name="y", kind="agent", start_ms=1.0, end_ms=2.0),
    ]

    assert [f.message for f in detect_all(looped)] == [SEED_MESSAGE]


def test_one_failing_detector_does_not_cost_the_others(monkeypatch, caplog):
    import insights.detectors as registry

    def broken(index):
        raise ValueError("bug")

    monkeypatch.setattr(registry, "DETECTORS", [("broken", broken), *registry.DETECTORS])

    assert [f.message for f in detect_all(seed_trace().spans)] == [SEED_MESSAGE]
    assert "insights detector broken failed" in caplog.text
