from evals.evaluators import BUILTIN_RULES, REGISTRY, get, register, rule_evaluators, run_rules
from evals.evaluators.base import Evaluator
from evals.evaluators.types import EvalConfig, EvalResult
from tests.evals import evaluate, llm_span, tool_span, trace


def test_every_builtin_rule_is_registered_as_a_rule():
    assert set(BUILTIN_RULES) == {e.name for e in rule_evaluators()}
    assert get("step_efficiency").kind == "agent"
    assert {e.name: e.target for e in REGISTRY.values() if e.target == "trace"} == {
        "max_turns": "trace",
        "tool_selection_accuracy": "trace",
        "step_efficiency": "trace",
    }


def test_it_runs_only_the_rules_that_apply_to_a_span():
    span = llm_span("Refunds take 5-7 business days [doc-4]. Questions? support@acme.com", documents=[{"id": "doc-4"}])
    results = run_rules(span, EvalConfig(), level="span")
    assert sorted(results) == ["citation_integrity", "error", "non_empty", "pii", "timeout"]
    assert results["pii"].label == "pii:email"
    assert results["citation_integrity"].passed is True
    assert all(r.latency_ms > 0 for r in results.values())


def test_trace_rules_run_at_the_trace_level():
    target = trace(llm_span("a"), tool_span(result="ok"), llm_span("b"))
    assert sorted(run_rules(target, EvalConfig(max_turns=2), level="trace")) == ["max_turns"]
    assert run_rules(target, EvalConfig(max_turns=2), level="trace")["max_turns"].passed is False


def test_named_runs_include_agent_metrics_and_report_unknown_names():
    target = trace(tool_span("get_order"), tool_span("get_order"))
    results = run_rules(target, EvalConfig(), ["step_efficiency", "no_such_rule"])
    assert results["step_efficiency"].value == 0.5
    assert results["no_such_rule"].status == "error"


def test_a_rule_that_raises_does_not_stop_the_others():
    class Broken(Evaluator):
        name = "broken_for_test"

        def evaluate(self, target, config):
            raise RuntimeError("bug")

    register(Broken())
    try:
        results = run_rules(llm_span("Hi"), EvalConfig(), ["broken_for_test", "non_empty"])
    finally:
        REGISTRY.pop("broken_for_test")
    assert (results["broken_for_test"].status, results["broken_for_test"].error) == ("error", "RuntimeError: bug")
    assert results["non_empty"].passed is True


def test_register_refuses_a_second_class_under_a_taken_name():
    class Impostor(Evaluator):
        name = "pii"

        def evaluate(self, target, config):
            return EvalResult()

    try:
        register(Impostor())
    except ValueError as exc:
        assert "taken" in str(exc)
    else:
        raise AssertionError("register accepted a duplicate name")


def test_odd_targets_never_raise():
    odd = llm_span(None, input_messages=None, output_messages=None, attributes=None, documents=None, spans=None)
    odd.duration_ms = "slow"
    results = run_rules(odd, EvalConfig(allowed_tools=["x"], json_schemas={"*": {"type": "object"}}))
    assert all(r.status != "error" for r in results.values()), results
    binary = llm_span(b"\xff\xfe{not json", tool_name=b"x")
    assert all(r.status != "error" for r in run_rules(binary, EvalConfig()).values())
    assert evaluate("pii", llm_span(12345)).passed is True
