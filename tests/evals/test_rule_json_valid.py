import json

from evals.evaluators import get
from tests.evals import evaluate, llm_span, tool_span

EXTRACTION = json.dumps(
    {
        "customer": {"name": "Dana Whitfield", "plan": "annual"},
        "intent": "refund_request",
        "order_ids": ["A-10492", "A-10517"],
        "urgency": 3,
    },
    indent=2,
)
JSON_MODE = {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.output.type": "json"}


def test_it_passes_a_json_object_answer():
    result = evaluate("json_valid", llm_span(EXTRACTION))
    assert (result.passed, result.value, result.label) == (True, 1.0, "valid")


def test_it_passes_a_json_array_answer_with_surrounding_whitespace():
    result = evaluate("json_valid", llm_span('\n  [{"sku": "KB-204", "qty": 2}, {"sku": "MS-11", "qty": 1}]\n'))
    assert result.passed is True


def test_it_fails_a_truncated_object_and_points_at_the_error():
    cut = EXTRACTION[: EXTRACTION.index('"urgency"')]
    result = evaluate("json_valid", llm_span(cut))
    assert (result.passed, result.value, result.label) == (False, 0.0, "invalid")
    assert result.details["line"] > 1
    assert "position" in result.details
    assert result.explanation.startswith("The output is not valid JSON")


def test_it_fails_a_python_dict_repr():
    result = evaluate("json_valid", llm_span("{'intent': 'refund_request', 'urgency': 3}"))
    assert result.passed is False
    assert "property name" in result.details["error"]


def test_it_fails_nan_which_python_accepts_but_json_does_not():
    result = evaluate("json_valid", llm_span('{"score": NaN}'))
    assert result.passed is False


def test_it_fails_a_fenced_answer_when_the_request_asked_for_json():
    fenced = "```json\n" + EXTRACTION + "\n```"
    result = evaluate("json_valid", llm_span(fenced, attributes=JSON_MODE))
    assert result.passed is False
    assert result.details["fenced"] is True
    assert result.details["inner_valid"] is True
    assert "code fence" in result.explanation


def test_it_applies_to_prose_when_the_request_asked_for_json():
    span = llm_span("Sure! Here is the extracted data: the customer wants a refund.", attributes=JSON_MODE)
    result = evaluate("json_valid", span)
    assert result.passed is False


def test_it_reads_response_format_from_openinference_invocation_parameters():
    attrs = {"llm.invocation_parameters": json.dumps({"temperature": 0, "response_format": {"type": "json_object"}})}
    assert evaluate("json_valid", llm_span("Here you go.", attributes=attrs)).passed is False


def test_it_reads_response_format_from_the_legacy_openai_attribute():
    attrs = {"gen_ai.openai.request.response_format": "json_schema"}
    assert evaluate("json_valid", llm_span(EXTRACTION, attributes=attrs)).passed is True


def test_it_does_not_apply_to_prose():
    assert evaluate("json_valid", llm_span("Annual plans can be refunded within 30 days of purchase.")) is None


def test_it_does_not_apply_to_an_answer_starting_with_a_citation():
    answer = "[1] Annual plans can be refunded within 30 days of purchase [2]"
    assert evaluate("json_valid", llm_span(answer)) is None
    assert evaluate("json_valid", llm_span("[doc-17] says refunds take 5-7 business days.")) is None


def test_it_does_not_apply_to_a_fenced_example_in_a_chat_answer():
    answer = '```json\n{"plan": "annual"}\n```'
    assert evaluate("json_valid", llm_span(answer)) is None


def test_it_does_not_apply_to_tool_results_or_empty_outputs():
    assert evaluate("json_valid", tool_span(result="{'temp': 21}", output_text="{'temp': 21}")) is None
    assert evaluate("json_valid", llm_span("")) is None
    assert evaluate("json_valid", llm_span(None)) is None


def test_a_plain_text_chain_output_is_not_meant_to_be_json():
    span = llm_span("{'answer': 'ok'}", kind="chain", attributes={"output.mime_type": "text/plain"})
    assert evaluate("json_valid", span) is None


def test_odd_outputs_never_raise():
    assert evaluate("json_valid", llm_span(b'{"ok": true}')).passed is True
    assert evaluate("json_valid", llm_span("[" * 100_000)).passed is False  # nesting deeper than the parser goes
    huge = get("json_valid").evaluate(llm_span("[" + "1," * 600_000 + "1]"), None)
    assert huge.status == "skipped"
    assert huge.details["truncated"] is True
