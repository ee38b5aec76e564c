import ast

import pytest

from insights import fixes
from insights.detectors import detect_all
from tests.insights.spans import seed_trace, staircase_trace


def python_compiles(source: str) -> None:
    # Snippets are bodies of an async function where they await: allow top-level await.
    compile(source, "<fix>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


ALL_FIXES = {
    "sequential pair": fixes.sequential_fix(
        unit_ops=["chat.completions"], models=["gpt-4o-mini"], pair_models=["gpt-4o-mini", "gpt-4o"], count=2
    ),
    "sequential loop": fixes.sequential_fix(unit_ops=["chat.completions"], models=["gpt-4o-mini"], count=15),
    "sequential staircase": fixes.sequential_fix(
        unit_ops=["embeddings", "chat.completions"], models=["text-embedding-3-small", "gpt-4o-mini"], count=15
    ),
    "sequential tools": fixes.sequential_fix(
        unit_ops=["tool get_weather", "retrieve_documents"], models=["", ""], count=4, tool_names=["get_weather", ""]
    ),
    "sequential anthropic": fixes.sequential_fix(
        unit_ops=["chat.completions"], models=["claude-sonnet-4-5"], count=2, provider="anthropic"
    ),
    "judge http": fixes.judge_fix(endpoint="POST /v1/answer", operation="chat.completions", model="gpt-4o"),
    "judge chain": fixes.judge_fix(endpoint="answer_question", operation="faithfulness", model=""),
    "loop": fixes.loop_fix(shape="loop", operation="chat.completions", model="gpt-4o", count=23, limit=10),
    "loop generic": fixes.loop_fix(shape="loop", operation="agent planner", model="", count=12, limit=10),
    "fanout embeddings": fixes.loop_fix(
        shape="fanout", operation="embeddings", model="text-embedding-3-small", count=120, limit=20
    ),
    "fanout tool": fixes.loop_fix(shape="fanout", operation="tool search", model="", count=40, limit=20),
    "reentry": fixes.loop_fix(shape="reentry", operation="agent researcher", model="", count=4, limit=2),
    "retry transient": fixes.retry_fix(
        operation="chat.completions", model="gpt-4o", failures=5, error="429 rate limit", transient=True
    ),
    "retry permanent": fixes.retry_fix(
        operation="chat.completions", model="gpt-4o", failures=3, error="400 context_length_exceeded", transient=False
    ),
    "retry tool": fixes.retry_fix(
        operation="tool lookup_order", model="", failures=5, error="connection refused", transient=True
    ),
    "duplicate": fixes.duplicate_fix(operation="chat.completions", model="gpt-4o-mini"),
    "duplicate embeddings": fixes.duplicate_fix(operation="embeddings", model="text-embedding-3-small"),
    "null tool": fixes.null_tool_fix(tool_name="get_weather"),
    "cost": fixes.cost_hotspot_fix(operation="chat.completions", model="gpt-4o"),
    "cost embeddings": fixes.cost_hotspot_fix(operation="embeddings", model="text-embedding-3-large"),
    "context": fixes.context_growth_fix(operation="chat.completions", model="gpt-4o"),
}


@pytest.mark.parametrize("name", ALL_FIXES)
def test_every_python_snippet_is_valid_python_with_no_placeholder_left(name):
    fix = ALL_FIXES[name]

    assert fix.summary
    assert fix.snippets
    for snippet in fix.snippets:
        assert set(snippet) == {"label", "before", "after"}
        assert "$" not in snippet["before"] + snippet["after"]
        if snippet["label"].startswith("Python") or snippet["label"].startswith("Peekr"):
            python_compiles(snippet["before"])
            python_compiles(snippet["after"])


def test_the_seed_fix_runs_the_two_calls_together_in_every_variant():
    fix = detect_all(seed_trace().spans)[0].fix
    sync, async_, js = fix.snippets

    assert [s["label"] for s in fix.snippets] == [
        "Python (sync client)",
        "Python (async client)",
        "JavaScript (Promise.all)",
    ]
    assert sync["before"] == (
        'first = client.chat.completions.create(model="gpt-4o-mini", messages=first_messages)\n'
        'second = client.chat.completions.create(model="gpt-4o-mini", messages=second_messages)'
        "  # waits for the first call, but doesn't use its result\n"
    )
    assert "with ThreadPoolExecutor(max_workers=2) as pool:" in sync["after"]
    assert 'pool.submit(client.chat.completions.create, model="gpt-4o-mini", messages=first_messages)' in sync["after"]
    assert "client = AsyncOpenAI()" in async_["after"]
    assert "first, second = await asyncio.gather(" in async_["after"]
    assert "await Promise.all([" in js["after"]
    assert 'client.chat.completions.create({ model: "gpt-4o-mini", messages: firstMessages })' in js["after"]


def test_a_python_service_gets_only_the_python_variants():
    fix = detect_all(seed_trace(attributes={"telemetry.sdk.language": "python"}).spans)[0].fix

    assert [s["label"] for s in fix.snippets] == ["Python (sync client)", "Python (async client)"]


def test_the_staircase_fix_keeps_the_steps_of_an_iteration_in_order():
    fix = detect_all(staircase_trace().spans)[0].fix
    after = fix.snippets[0]["after"]

    assert fix.summary == "Run the 15 iterations concurrently: they don't use each other's output."
    assert (
        "def process(item):\n"
        '    step_1 = client.embeddings.create(model="text-embedding-3-small", input=input_for(item))\n'
        '    return client.chat.completions.create(model="gpt-4o-mini", messages=messages_for(item, step_1))\n'
    ) in after
    assert "results = list(pool.map(process, items))" in after
    assert "# 15 iterations, one after another" in fix.snippets[0]["before"]


def test_anthropic_calls_are_written_with_the_anthropic_sdk():
    fix = ALL_FIXES["sequential anthropic"]
    async_after = fix.snippets[1]["after"]

    assert "from anthropic import AsyncAnthropic" in async_after
    assert 'client.messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=first_messages)' in async_after


def test_plain_functions_run_in_threads_in_the_async_variant():
    after = ALL_FIXES["sequential tools"].snippets[1]["after"]

    assert "await asyncio.to_thread(get_weather, arguments_for(item))" in after
    assert "await asyncio.to_thread(retrieve_documents, arguments_for(item, step_1))" in after
    assert "AsyncOpenAI" not in after


def test_the_judge_fix_uses_a_placeholder_route_when_the_root_is_not_http():
    fix = ALL_FIXES["judge chain"]

    assert '@app.post("/answer")' in fix.snippets[0]["after"]
    assert "faithfulness(question, answer)" in fix.snippets[0]["after"]


def test_a_missing_model_is_left_as_a_name_to_fill_in():
    fix = fixes.duplicate_fix(operation="chat.completions", model="")

    assert "model=MODEL" in fix.snippets[0]["before"]
