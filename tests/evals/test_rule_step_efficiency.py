from evals.evaluators.agent.step_efficiency import PASS_AT
from tests.evals import calling_llm_span, evaluate, llm_span, tool_call, tool_span, trace

SYSTEM = {"role": "system", "content": "You are Acme's support agent."}
USER = {"role": "user", "content": "Where is my order A-10492?"}


def turn(history, call):
    """An llm span asking for one tool call, given the conversation so far."""
    return calling_llm_span(call, input_messages=list(history))


def test_an_agent_loop_without_repeats_is_fully_efficient():
    call1 = tool_call("get_order", '{"order_id": "A-10492"}')
    call2 = tool_call("track_shipment", '{"tracking": "1Z999AA10123456784"}')
    history = [SYSTEM, USER]
    spans = [turn(history, call1), tool_span("get_order", call1["arguments"], result='{"status": "shipped"}')]
    history += [{"role": "assistant", "content": "", "tool_calls": [call1]}, {"role": "tool", "content": "shipped"}]
    spans += [turn(history, call2), tool_span("track_shipment", call2["arguments"], result='{"eta": "Friday"}')]
    spans.append(llm_span("It arrives Friday.", input_messages=[*history, {"role": "tool", "content": "Friday"}]))
    result = evaluate("step_efficiency", trace(*spans))
    assert (result.passed, result.value, result.label) == (True, 1.0, "efficient")
    assert result.details["steps"] == 5
    assert result.details["repeats"] == []


def test_repeated_identical_calls_count_once():
    # The same lookup three times: argument order and spacing do not make a call new.
    spans = [
        tool_span("get_order", '{"order_id": "A-10492", "expand": true}'),
        tool_span("get_order", '{"expand": true, "order_id": "A-10492"}'),
        tool_span("get_order", '{ "order_id":"A-10492","expand":true }'),
        tool_span("get_order", '{"order_id": "A-10517", "expand": true}'),
    ]
    result = evaluate("step_efficiency", trace(*spans))
    assert (result.passed, result.value, result.label) == (False, 0.5, "inefficient")
    (repeat,) = result.details["repeats"]
    assert (repeat["kind"], repeat["name"], repeat["count"]) == ("tool", "get_order", 3)
    assert repeat["span_ids"] == [s.span_id for s in spans[:3]]
    assert "tool get_order ran 3 times with the same input" in result.explanation


def test_the_same_llm_input_twice_is_a_repeat_but_growing_history_is_not():
    same = [SYSTEM, USER]
    spans = [llm_span("a", input_messages=same), llm_span("b", input_messages=list(same))]
    spans.append(llm_span("c", input_messages=[*same, {"role": "assistant", "content": "b"}]))
    result = evaluate("step_efficiency", trace(*spans))
    assert result.value == 2 / 3
    assert result.passed is (PASS_AT <= 2 / 3)


def test_a_retry_that_succeeded_is_useful_but_a_call_that_always_failed_is_not():
    spans = [
        tool_span("get_order", '{"order_id": "A-1"}', status="error", error="503"),
        tool_span("get_order", '{"order_id": "A-1"}', result="{}"),
        tool_span("refund", '{"order_id": "A-1"}', status="error", error="403"),
        tool_span("search_kb", '{"query": "refund"}', result="..."),
    ]
    result = evaluate("step_efficiency", trace(*spans))
    assert (result.details["steps"], result.details["useful"]) == (4, 2)
    assert [f["name"] for f in result.details["failed"]] == ["refund"]


def test_it_does_not_apply_to_a_single_step():
    assert evaluate("step_efficiency", trace(llm_span("Hello!"))) is None
    assert evaluate("step_efficiency", trace(llm_span("", kind="retriever"), llm_span("Hi"))) is None
