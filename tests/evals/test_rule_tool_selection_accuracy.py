from evals.evaluators.types import EvalConfig
from tests.evals import calling_llm_span, evaluate, llm_span, tool_call, tool_span, trace


def agent(*tools):
    spans = []
    for name in tools:
        spans += [calling_llm_span(tool_call(name)), tool_span(name, result='{"ok": true}')]
    return trace(*spans, llm_span("Done."))


def test_it_scores_against_the_golden_expected_tools():
    target = agent("get_order", "search_kb", "get_order")
    result = evaluate("tool_selection_accuracy", target, EvalConfig(expected_tools=["get_order", "search_kb"]))
    assert (result.passed, result.value, result.label) == (True, 1.0, "3/3")
    assert result.details["basis"] == "expected_tools"
    assert [c["tool"] for c in result.details["calls"]] == ["get_order", "search_kb", "get_order"]


def test_a_wrong_tool_lowers_the_fraction():
    target = agent("search_web", "get_order", "get_order", "search_kb")
    result = evaluate("tool_selection_accuracy", target, EvalConfig(expected_tools=["get_order", "search_kb"]))
    assert (result.passed, result.value, result.label) == (False, 0.75, "3/4")
    assert result.details["wrong"] == ["search_web"]
    assert [c["ok"] for c in result.details["calls"]] == [False, True, True, True]


def test_a_missing_expected_tool_fails_a_golden_case():
    result = evaluate(
        "tool_selection_accuracy", agent("get_order"), EvalConfig(expected_tools=["get_order", "issue_refund"])
    )
    assert (result.passed, result.value) == (False, 1.0)
    assert result.details["missing"] == ["issue_refund"]
    assert "never called (issue_refund)" in result.explanation


def test_no_tool_calls_score_zero_against_a_golden_case():
    result = evaluate(
        "tool_selection_accuracy", trace(llm_span("I think so.")), EvalConfig(expected_tools=["get_order"])
    )
    assert (result.passed, result.value, result.label) == (False, 0.0, "no_tool_calls")


def test_without_a_golden_case_it_scores_against_the_allowed_tools():
    config = EvalConfig(allowed_tools=["get_order", "search_*"], expected_tools=[])
    result = evaluate("tool_selection_accuracy", agent("search_kb", "delete_user"), config)
    assert (result.value, result.details["basis"], result.details["missing"]) == (0.5, "allowed_tools", [])


def test_llm_tool_calls_count_when_the_trace_has_no_tool_spans():
    target = trace(calling_llm_span(tool_call("get_order"), tool_call("search_web")), llm_span("Done."))
    result = evaluate("tool_selection_accuracy", target, EvalConfig(allowed_tools=["get_order"]))
    assert result.value == 0.5


def test_it_does_not_apply_without_reference_tools_or_without_calls_to_judge():
    assert evaluate("tool_selection_accuracy", agent("get_order")) is None
    assert evaluate("tool_selection_accuracy", trace(llm_span("Hi!")), EvalConfig(allowed_tools=["get_order"])) is None
