from insights.detectors import runaway_loop as detector
from insights.detectors.types import TraceIndex
from tests.insights.spans import TraceBuilder

SYSTEM = "You are a research agent. Use the search tool until you can answer, then answer."


def loops(spans):
    return detector.detect(TraceIndex(spans))


def agent_trace(steps: int) -> TraceBuilder:
    """An agent that keeps searching: every step re-sends the conversation plus the last tool result."""
    t = TraceBuilder(service="research-agent")
    root = t.span("invoke_agent researcher", at=0.0, dur=steps * 3.0 + 1, kind="agent")
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Who founded Acme Robotics?"}]
    at = 0.0
    for i in range(steps):
        query = f"Acme Robotics founder attempt {i}"
        t.llm(
            parent=root,
            at=at,
            dur=2.0,
            model="gpt-4o",
            messages=list(messages),
            output=f'search({{"q": "{query}"}})',
            cost=0.01,
        )
        result = f"No exact match for {query}; results mention Acme Corp's 1998 annual report, page {i}."
        t.tool("search", parent=root, at=at + 2.0, dur=0.9, arguments=f'{{"q": "{query}"}}', result=result)
        messages += [
            {"role": "assistant", "content": "", "tool_calls": [{"id": f"c{i}", "name": "search", "arguments": query}]},
            {"role": "tool", "content": result, "tool_call_id": f"c{i}"},
        ]
        at += 3.0
    return t


def test_an_agent_that_does_not_stop_is_a_runaway_loop():
    findings = loops(agent_trace(14).spans)

    assert len(findings) == 1
    finding = findings[0]
    assert finding.details["shape"] == "loop"
    assert finding.operation == "chat.completions"
    assert finding.parent_operation == "agent researcher"
    # Steps 11 to 14 and their searches: from the 10th call's end (29 s) to the last search's end (41.9 s).
    assert finding.saving_ms == 12_900
    assert round(finding.saving_usd, 4) == 0.04
    assert finding.message == (
        'Root cause: runaway loop in "agent researcher"\n'
        '"chat.completions" ran 14 times in a row, each step building on the last. '
        "A limit of 10 steps would save 12.9s and $0.0400."
    )
    assert "MAX_STEPS = 10" in finding.fix.snippets[0]["after"]


def test_an_agent_within_the_step_limit_is_fine():
    assert loops(agent_trace(10).spans) == []


def test_many_independent_calls_are_not_a_loop():
    t = TraceBuilder(service="reviews")
    root = t.span("summarise_reviews", at=0.0, dur=40.0, kind="chain")
    for i in range(14):
        t.llm(parent=root, at=i * 2.5, dur=2.4, user=f"Summarise review #{i}: battery lasts {i} hours, screen ok.")

    assert loops(t.spans) == []


def test_a_parent_fanning_out_into_many_calls_is_a_fanout():
    t = TraceBuilder(service="indexer")
    root = t.span("index_handbook", at=0.0, dur=3.0, kind="chain")
    for i in range(45):
        t.embed(parent=root, at=(i // 15) * 1.0, dur=0.9, text=f"Handbook chunk {i}: holidays, expenses, laptops.")

    findings = loops(t.spans)

    assert len(findings) == 1
    finding = findings[0]
    assert finding.details["shape"] == "fanout"
    assert finding.severity == "info"
    assert finding.operation == "embeddings"
    assert finding.saving_ms == 1000  # the third wave, after the first 20 calls were done
    assert 'One span made 45 "embeddings" calls' in finding.message
    assert "input=texts[start : start + BATCH]" in finding.fix.snippets[0]["after"]


def test_an_agent_re_entering_itself_three_levels_deep_is_flagged():
    t = TraceBuilder(service="research-agent")
    outer = t.span("invoke_agent researcher", at=0.0, dur=9.0, kind="agent")
    middle = t.span("invoke_agent researcher", at=1.0, dur=7.0, parent=outer, kind="agent")
    inner = t.span("invoke_agent researcher", at=2.0, dur=5.0, parent=middle, kind="agent")
    t.llm(parent=inner, at=2.1, dur=4.8, user="Dig deeper into Acme's founders", cost=0.02)

    findings = loops(t.spans)

    assert len(findings) == 1
    finding = findings[0]
    assert finding.details == {"shape": "reentry", "depth": 3, "limit": 2}
    assert finding.span_ids == [inner.span_id]
    assert finding.saving_ms == 5000
    assert finding.saving_usd == 0.02
    assert "def agent_researcher(task, depth=0):" in finding.fix.snippets[0]["after"]


def test_one_delegation_to_itself_is_fine():
    t = TraceBuilder(service="research-agent")
    outer = t.span("invoke_agent researcher", at=0.0, dur=9.0, kind="agent")
    inner = t.span("invoke_agent researcher", at=1.0, dur=7.0, parent=outer, kind="agent")
    t.llm(parent=inner, at=1.1, dur=4.8, user="Dig deeper")

    assert loops(t.spans) == []


def test_stacked_instrumentation_of_one_llm_call_is_not_re_entry():
    t = TraceBuilder()
    root = t.request(dur=3.0)
    outer = t.llm(parent=root, at=0.0, dur=2.9, name="ChatOpenAI", user="hi")
    middle = t.llm(parent=outer, at=0.01, dur=2.8, name="openai.chat", user="hi")
    t.llm(parent=middle, at=0.02, dur=2.7, name="chat gpt-4o-mini", user="hi")

    assert loops(t.spans) == []
