from evals.evaluators.types import EvalConfig
from tests.evals import calling_llm_span, evaluate, llm_span, tool_call, tool_span, trace


def agent_loop(turns):
    spans = []
    for i in range(turns - 1):
        spans += [calling_llm_span(tool_call("search_kb", f'{{"query": "q{i}"}}')), tool_span(result="...")]
    return trace(*spans, llm_span("Here is what I found."))


def test_it_passes_a_loop_under_the_limit():
    result = evaluate("max_turns", agent_loop(4), EvalConfig(max_turns=5))
    assert (result.passed, result.value, result.label) == (True, 1.0, "ok")
    assert result.details == {"turns": 4, "max_turns": 5}


def test_it_fails_a_loop_that_reaches_the_limit():
    result = evaluate("max_turns", agent_loop(5), EvalConfig(max_turns=5))
    assert (result.passed, result.value, result.label) == (False, 0.0, "max_turns")
    assert result.explanation == "The agent made 5 llm calls, reaching the limit of 5."


def test_it_does_not_apply_without_llm_calls_or_without_a_limit():
    assert evaluate("max_turns", trace(tool_span(result="ok"))) is None
    assert evaluate("max_turns", agent_loop(3), EvalConfig(max_turns=0)) is None
    assert evaluate("max_turns", llm_span("a lone span with no trace around it")) is None
