import ast
import os
import subprocess
import sys

import pytest
from django.core.management import call_command

from annotations import exporters, services
from tests.annotations.helpers import agent_trace, make_queue, reviewed_item
from tests.fake_openai import FakeOpenAI


@pytest.fixture
def golden(project, owner):
    golden_set = services.golden_set_create(project=project, name="Support bot")
    queue = make_queue(project)
    leak = agent_trace(project, question="What is my account email?", answer="It is jane@example.com")
    items = [
        reviewed_item(queue, agent_trace(project), owner, labels=["hallucination"], expected_output="30 days."),
        reviewed_item(queue, leak, owner, labels=["PII leak"]),
    ]
    services.golden_items_promote(golden_set=golden_set, items_or_traces=items)
    services.golden_items_import(
        golden_set=golden_set,
        cases=[
            {"case_id": "json-answer", "input_text": "Status of order 9 as JSON", "graders": [{"type": "json_valid"}]}
        ],
    )
    return golden_set


def cases_of(golden_set):
    return [i.as_case() for i in golden_set.versions.order_by("-number").first().items.order_by("pk")]


@pytest.mark.django_db
def test_jsonl_round_trips(project, golden):
    cases = cases_of(golden)
    text = exporters.cases_to_jsonl(cases)
    assert len(text.splitlines()) == 3
    assert exporters.cases_from_jsonl(text) == cases
    copy = services.golden_set_create(project=project, name="copy")
    services.golden_items_import(golden_set=copy, cases=exporters.cases_from_jsonl(text))
    assert exporters.cases_to_jsonl(cases_of(copy)) == text


def test_a_bad_jsonl_line_is_refused_with_its_number():
    with pytest.raises(ValueError, match="line 2: not JSON"):
        exporters.cases_from_jsonl('{"case_id": "a"}\n{oops\n')


def run_pytest_file(path, target: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PEEKR_"))}
    env.update(PEEKR_TARGET=target, PEEKR_MODEL="candidate-1")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:django", "-p", "no:cacheprovider", str(path)],
        cwd=path.parent, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.django_db
def test_the_pytest_file_runs_without_the_server(golden, tmp_path):
    call_command("golden_export", "--golden-set", "Support bot", "--format", "pytest", "--output",
                 str(tmp_path / "test_golden_support_bot.py"))  # fmt: skip
    path = tmp_path / "test_golden_support_bot.py"
    ast.parse(path.read_text())  # valid Python
    assert exporters.pytest_module_name("Support bot") == path.name
    with FakeOpenAI(answer='{"status": "shipped"}') as good:
        result = run_pytest_file(path, good.base_url)
    # hallucination only has an LLM-judge grader: skipped there; the PII and JSON cases run and pass.
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed, 1 skipped" in result.stdout
    assert good.requests[0]["body"]["model"] == "candidate-1"
    with FakeOpenAI(answer="Sure! Write to jane@example.com") as bad:
        result = run_pytest_file(path, bad.base_url)
    assert result.returncode == 1
    assert "2 failed, 1 skipped" in result.stdout
    assert "personal data in the output" in result.stdout and "not valid JSON" in result.stdout


@pytest.mark.django_db
def test_golden_export_writes_jsonl_to_stdout(golden, capsys):
    call_command("golden_export", "--golden-set", "Support bot", "--version", "1")
    out = capsys.readouterr().out
    assert len(exporters.cases_from_jsonl(out)) == 2  # version 1: before the import
