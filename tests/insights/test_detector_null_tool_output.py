from insights.detectors import null_tool_output as detector
from insights.detectors.types import TraceIndex
from tests.insights.spans import TraceBuilder

SYSTEM = "You are a travel assistant. Use get_weather for weather questions."
QUESTION = "Do I need an umbrella in Porto tomorrow?"


def nulls(spans):
    return detector.detect(TraceIndex(spans))


def weather_agent(result: str, tool_message_content: str | None) -> TraceBuilder:
    """llm asks for get_weather, the tool returns `result`, the next llm call gets `tool_message_content`."""
    t = TraceBuilder(service="travel-bot")
    root = t.request("POST /v1/chat", dur=6.0)
    first = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    t.llm(parent=root, at=0.0, dur=1.5, messages=first, output='get_weather({"city": "Porto"})')
    t.tool(
        "get_weather",
        parent=root,
        at=1.5,
        dur=0.4,
        arguments='{"city": "Porto", "day": "tomorrow"}',
        result=result,
        attributes={"gen_ai.tool.call.id": "call_1"},
    )
    history = [
        *first,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": "{}"}],
        },
        {"role": "tool", "content": tool_message_content, "tool_call_id": "call_1"},
    ]
    t.llm(parent=root, at=2.0, dur=1.8, messages=history, output="Yes, take an umbrella: rain is likely.")
    t.llm(
        parent=root,
        at=4.0,
        dur=1.5,
        messages=[
            *history,
            {"role": "assistant", "content": "Yes, take an umbrella."},
            {"role": "user", "content": "Thanks!"},
        ],
    )
    return t


def test_a_null_tool_result_in_the_next_calls_messages_is_flagged_once():
    t = weather_agent(result="null", tool_message_content="null")

    findings = nulls(t.spans)

    assert len(findings) == 1
    finding = findings[0]
    assert finding.detector == "null_tool_output"
    assert finding.operation == "tool get_weather"
    assert finding.span_ids == ["0000000000000003", "0000000000000004"]  # the tool, the first call fed with it
    assert finding.details["occurrences"] == 1
    assert finding.message == (
        "Root cause: null tool output fed to an LLM\n"
        '"get_weather" returned nothing and "chat.completions" was given the empty result once. '
        "The model answers from nothing, or makes something up: tell it the tool found no result."
    )
    assert 'if result in (None, "", [], {}):' in finding.fix.snippets[0]["after"]
    assert "get_weather returned no result" in finding.fix.snippets[0]["after"]


def test_an_empty_tool_message_without_a_tool_span_is_flagged_by_name():
    t = TraceBuilder(service="travel-bot")
    root = t.request("POST /v1/chat", dur=3.0)
    t.llm(
        parent=root,
        at=0.0,
        dur=2.0,
        messages=[
            {"role": "user", "content": QUESTION},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c9", "name": "get_weather", "arguments": "{}"}],
            },
            {"role": "tool", "content": "", "tool_call_id": "c9"},
        ],
    )
    t.tool("get_weather", parent=root, at=2.5, dur=0.1, result="")  # an unrelated, later call

    finding = nulls(t.spans)[0]

    assert finding.operation == "tool get_weather"
    assert finding.span_ids == ["0000000000000002"]


def test_a_null_pasted_into_a_prompt_is_flagged():
    t = TraceBuilder(service="travel-bot")
    root = t.request("POST /v1/chat", dur=3.0)
    t.tool("get_weather", parent=root, at=0.0, dur=0.4, arguments='{"city": "Porto"}', result="None")
    t.llm(parent=root, at=0.5, dur=2.0, user=f"{QUESTION}\n\nget_weather returned: None\nAnswer briefly.")

    assert [f.operation for f in nulls(t.spans)] == ["tool get_weather"]


def test_a_tool_that_returned_data_is_fine():
    t = weather_agent(result='{"rain_mm": 6}', tool_message_content='{"rain_mm": 6}')

    assert nulls(t.spans) == []


def test_a_null_result_that_no_llm_call_received_is_fine():
    t = TraceBuilder(service="travel-bot")
    root = t.request("POST /v1/chat", dur=3.0)
    t.llm(parent=root, at=0.0, dur=1.0, user=QUESTION, output='get_weather({"city": "Porto"})')
    t.tool("get_weather", parent=root, at=1.0, dur=0.4, result="null")  # the app answered with a fallback

    assert nulls(t.spans) == []


def test_messages_without_any_content_mean_capture_was_off_not_an_empty_result():
    t = TraceBuilder(service="travel-bot")
    root = t.request("POST /v1/chat", dur=3.0)
    t.llm(
        parent=root,
        at=0.0,
        dur=2.0,
        messages=[
            {"role": "user", "content": ""},
            {"role": "assistant", "content": ""},
            {"role": "tool", "content": ""},
        ],
    )

    assert nulls(t.spans) == []
