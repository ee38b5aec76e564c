import json

import pytest

from tests.evals import evaluate, llm_span, tool_span

ORDER = json.dumps({"order_id": "A-10492", "status": "delivered", "total": 1234.56, "items": 3})


def test_it_passes_a_tool_that_returned_a_result():
    result = evaluate("tool_failure", tool_span("get_order", result=ORDER))
    assert (result.passed, result.value, result.label) == (True, 1.0, "ok")
    assert result.explanation == "get_order returned a result."


def test_it_fails_a_tool_span_in_error():
    span = tool_span("get_order", status="error", error="requests.exceptions.HTTPError: 503 Server Error")
    result = evaluate("tool_failure", span)
    assert (result.passed, result.label, result.details["reason"]) == (False, "error", "status_error")


@pytest.mark.parametrize(
    ("result_text", "label"),
    [("", "empty"), ("   ", "empty"), ("[]", "empty"), ("null", "null"), ("None", "null"), (None, "empty"),
     ("Error: order A-10492 not found", "error"), ("KeyError: 'order_id'", "error"),
     ('{"error": "rate limited", "retry_after": 30}', "error"),
     ('{"content": [{"type": "text", "text": "no such repo"}], "isError": true}', "error"),
     ("Traceback (most recent call last):\n  File \"tools.py\", line 12", "error")],
)  # fmt: skip
def test_it_fails_an_empty_null_or_error_result(result_text, label):
    result = evaluate("tool_failure", tool_span("get_order", result=result_text))
    assert (result.passed, result.label) == (False, label)
    assert result.details["reason"] == f"{label}_result"


def test_results_that_merely_mention_errors_pass():
    for text in ("Errors found: 0", '{"orders": [], "error": null, "page": 1}', "Terror Nights (1998), horror"):
        assert evaluate("tool_failure", tool_span("search", result=text)).passed is True, text


def test_it_falls_back_to_the_output_text():
    assert evaluate("tool_failure", tool_span("get_order", result="", output_text=ORDER)).passed is True


def test_it_does_not_apply_to_other_spans():
    assert evaluate("tool_failure", llm_span("")) is None
