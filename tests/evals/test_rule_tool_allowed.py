from evals.evaluators import get
from evals.evaluators.types import EvalConfig
from tests.evals import calling_llm_span, evaluate, llm_span, tool_call, tool_span

CONFIG = EvalConfig(allowed_tools=["search_kb", "get_order", "github.*"])


def test_it_passes_a_tool_span_running_an_allowed_tool():
    result = evaluate("tool_allowed", tool_span("get_order", '{"order_id": "A-10492"}'), CONFIG)
    assert (result.passed, result.value, result.label) == (True, 1.0, "allowed")
    assert result.details == {"tools": ["get_order"], "disallowed": []}


def test_it_fails_a_tool_span_running_a_tool_outside_the_set():
    result = evaluate("tool_allowed", tool_span("issue_refund", '{"order_id": "A-10492", "amount": 1234.56}'), CONFIG)
    assert (result.passed, result.value, result.label) == (False, 0.0, "disallowed")
    assert result.details["disallowed"] == ["issue_refund"]
    assert "issue_refund" in result.explanation


def test_it_checks_every_tool_call_an_llm_span_asks_for():
    span = calling_llm_span(tool_call("search_kb", '{"query": "refund"}'), tool_call("delete_account", '{"id": 7}'))
    result = evaluate("tool_allowed", span, CONFIG)
    assert result.passed is False
    assert result.details == {"tools": ["search_kb", "delete_account"], "disallowed": ["delete_account"]}


def test_allowed_entries_may_be_globs_for_tool_families():
    assert evaluate("tool_allowed", tool_span("github.create_issue"), CONFIG).passed is True
    assert evaluate("tool_allowed", tool_span("gitlab.create_issue"), CONFIG).passed is False


def test_it_reads_the_tool_name_from_a_genai_span_name():
    span = tool_span("", name="execute_tool search_kb")
    assert evaluate("tool_allowed", span, CONFIG).passed is True


def test_it_does_not_apply_without_an_allowed_set_or_without_tools():
    assert evaluate("tool_allowed", tool_span("issue_refund")) is None
    assert get("tool_allowed").applies(tool_span("issue_refund")) is False
    assert evaluate("tool_allowed", llm_span("Refunds take 5-7 business days."), CONFIG) is None
    assert evaluate("tool_allowed", tool_span("", name="lookup"), CONFIG) is None
