import json

from evals.evaluators import get
from evals.evaluators.rules.json_schema import validator_for
from evals.evaluators.types import EvalConfig
from tests.evals import evaluate, llm_span

TICKET_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["intent", "urgency", "order_ids"],
    "properties": {
        "intent": {"enum": ["refund_request", "billing_question", "bug_report"]},
        "urgency": {"type": "integer", "minimum": 1, "maximum": 5},
        "order_ids": {"type": "array", "items": {"type": "string", "pattern": "^A-\\d{5}$"}},
        "contact": {"type": "string", "format": "email"},
    },
    "additionalProperties": False,
}
CONFIG = EvalConfig(json_schemas={"classify_ticket*": TICKET_SCHEMA})


def span(output):
    return llm_span(json.dumps(output) if not isinstance(output, str) else output, name="classify_ticket.v2")


def test_it_passes_an_output_matching_the_schema():
    result = evaluate("json_schema", span({"intent": "refund_request", "urgency": 3, "order_ids": ["A-10492"]}), CONFIG)
    assert (result.passed, result.label, result.details["pattern"]) == (True, "valid", "classify_ticket*")


def test_it_fails_and_lists_errors_with_their_paths():
    output = {"intent": "cancel", "urgency": 9, "order_ids": ["A-10492", "10517"], "notes": "x"}
    result = evaluate("json_schema", span(output), CONFIG)
    assert (result.passed, result.value, result.label) == (False, 0.0, "invalid")
    paths = [e["path"] for e in result.details["errors"]]
    assert {"$.intent", "$.urgency", "$.order_ids[1]", "$"} <= set(paths)
    assert result.details["error_count"] == 4
    assert all(len(e["message"]) <= 200 for e in result.details["errors"])


def test_it_enforces_formats():
    output = {"intent": "bug_report", "urgency": 1, "order_ids": [], "contact": "dana at acme"}
    result = evaluate("json_schema", span(output), CONFIG)
    assert result.passed is False
    assert result.details["errors"][0]["validator"] == "format"


def test_it_fails_an_output_that_is_not_json():
    result = evaluate("json_schema", span("I classified this as a refund request."), CONFIG)
    assert (result.passed, result.label) == (False, "invalid_json")


def test_an_exact_name_wins_over_a_glob():
    config = EvalConfig(json_schemas={"classify_*": {"type": "array"}, "classify_ticket.v2": {"type": "object"}})
    result = evaluate("json_schema", span({"intent": "refund_request"}), config)
    assert result.passed is True
    assert result.details["pattern"] == "classify_ticket.v2"


def test_it_does_not_apply_without_a_schema_for_the_span_name():
    assert evaluate("json_schema", span({"a": 1})) is None
    other = llm_span('{"a": 1}', name="summarise_thread")
    assert evaluate("json_schema", other, CONFIG) is None
    assert get("json_schema").applies(other) is False


def test_an_invalid_schema_is_an_error_not_a_failure():
    config = EvalConfig(json_schemas={"classify_ticket*": {"type": "objekt"}})
    result = evaluate("json_schema", span({"a": 1}), config)
    assert (result.status, result.passed, result.label) == ("error", None, "bad_schema")


def test_validators_are_cached_per_schema():
    assert validator_for(TICKET_SCHEMA) is validator_for(json.loads(json.dumps(TICKET_SCHEMA)))
    assert validator_for({"type": "string"}) is not validator_for(TICKET_SCHEMA)
