"""The pytest export with hostile data: no set name, case id, input or expected output is ever Python source.

Every payload below writes a marker file if Python ever runs it; the generated file is collected and run by a
real pytest in a subprocess, and the marker must never appear.
"""

import ast
import json
import os
import subprocess
import sys

import pytest
from _pytest.compat import ascii_escaped

from annotations import exporters, regress, services
from tests.fake_openai import FakeOpenAI


def payloads(marker) -> list[str]:
    code = f'__import__("pathlib").Path({json.dumps(str(marker))}).write_text("pwned")'
    return [
        f'x"""; {code}; """',
        f"x'''; {code}; '''",
        f'x"""\n{code}\n"""',
        f"x'); {code}; ('",
        f'x"); {code}; ("',
        f"x\\\n{code}",
        f"{{}} %s {{name}} %(name)s {{0}} {{{{ }}}}\n{code}",
        f"\\N{{BULLET}} \\u2028 \\x00 {code}",
        f"\u2028{code}\u2029\x0c\r#",
    ]


ODD = ['"""', "'''", "\\", "\\'", 'a\nb"', "nul\x00byte", "line\u2028sep", "\ud800", "\u202e" + "rtl", "{}", "%s"]


def hostile_cases(marker) -> list[dict]:
    return [
        {
            "case_id": text,
            "input_messages": [{"role": "user", "content": text}],
            "input_text": text,
            "context": [text, {"content": text + "!"}],
            "expected_output": text,
            "bad_output": text,
            "model": text,
            "prompt_version": text,
            "labels": [text],
            "graders": [{"type": "non_empty", "note": text}, {"type": "tool_allowed", "allowed": [text]}],
        }
        for text in [*payloads(marker), *ODD]
    ]


def data_literal(tree: ast.Module) -> ast.Constant:
    """The one string constant the data lives in: the argument of ``json.loads`` at module level."""
    found = [
        node.args[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) == "json.loads"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]
    assert len(found) == 1
    return found[0]


def without_data(source: str) -> str:
    literal = data_literal(ast.parse(source))
    return source.replace(ast.get_source_segment(source, literal), "DATA", 1)


def run(path, *args, target="http://127.0.0.1:9/v1"):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PEEKR_"))}
    env.update(PEEKR_TARGET=target, PEEKR_MODEL="candidate-1")
    return subprocess.run(
        [sys.executable, *args, str(path)], cwd=path.parent, env=env, capture_output=True, text=True, timeout=120
    )


def pytest_run(path, *args, target="http://127.0.0.1:9/v1"):
    return run(path, "-m", "pytest", "-p", "no:django", "-p", "no:cacheprovider", *args, target=target)


def write_export(tmp_path, name, cases) -> tuple:
    source = exporters.cases_to_pytest(name=name, version=7, cases=cases)
    path = tmp_path / "test_golden_export.py"
    path.write_text(source, encoding="utf-8")
    return path, source


@pytest.mark.parametrize("which", range(9))
def test_a_hostile_set_name_is_never_run(tmp_path, which):
    marker = tmp_path / "marker"
    name = payloads(marker)[which]
    path, _ = write_export(tmp_path, name, [{"case_id": "c1", "graders": [{"type": "non_empty"}]}])
    result = pytest_run(path, "--co", "-q")
    assert not marker.exists()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 test collected" in result.stdout


def test_hostile_cases_collect_with_their_ids_and_nothing_runs(tmp_path):
    marker, cases = tmp_path / "marker", hostile_cases(tmp_path / "marker")
    path, _ = write_export(tmp_path, payloads(marker)[0], cases)
    result = pytest_run(path, "--co", "-q")
    assert not marker.exists()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(cases)} tests collected" in result.stdout
    collected = [line for line in result.stdout.splitlines() if line.startswith(path.name + "::")]
    assert collected == [f"{path.name}::test_case[{ascii_escaped(c['case_id'])}]" for c in cases]


def test_user_text_lives_only_in_the_one_data_constant(tmp_path):
    marker, cases = tmp_path / "marker", hostile_cases(tmp_path / "marker")
    source = exporters.cases_to_pytest(name=payloads(marker)[0], version=7, cases=cases)
    benign = exporters.cases_to_pytest(name="Benign set 42", version=1, cases=[{"case_id": "a"}])
    # The module is a fixed template: apart from the data constant it is the same text for any set.
    assert without_data(source) == without_data(benign)
    assert str(marker) not in without_data(source) and "Benign set 42" not in without_data(benign)
    data = json.loads(data_literal(ast.parse(source)).value)
    assert data == {"name": payloads(marker)[0], "version": 7, "cases": [exporters.case_to_json(c) for c in cases]}
    source.encode("ascii")  # escapes only: no invisible or bidirectional characters in the file


def test_the_data_round_trips_when_the_module_runs(tmp_path):
    marker, cases = tmp_path / "marker", hostile_cases(tmp_path / "marker")
    path, _ = write_export(tmp_path, payloads(marker)[2], cases)
    loader = "import json, runpy, sys; print(json.dumps(runpy.run_path(sys.argv[1])['GOLDEN']))"
    result = run(path, "-c", loader)
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    loaded = json.loads(result.stdout)
    assert loaded == {"name": payloads(marker)[2], "version": 7, "cases": [exporters.case_to_json(c) for c in cases]}


def test_hostile_cases_run_and_grade_as_before(tmp_path):
    marker, cases = tmp_path / "marker", hostile_cases(tmp_path / "marker")
    path, _ = write_export(tmp_path, payloads(marker)[1], cases)
    with FakeOpenAI(answer="fine") as fake:
        result = pytest_run(path, "-q", target=fake.base_url)
    assert not marker.exists()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(cases)} passed" in result.stdout
    sent = sorted(json.dumps(r["body"]["messages"]) for r in fake.requests)
    assert sent == sorted(json.dumps(regress.replay_messages(c)) for c in cases)  # the same replay, byte for byte
    with FakeOpenAI(answer="   ") as empty:
        result = pytest_run(path, "-q", target=empty.base_url)
    assert result.returncode == 1 and f"{len(cases)} failed" in result.stdout
    assert not marker.exists()


@pytest.mark.django_db
def test_the_api_export_of_a_hostile_set_is_safe(client, project, api_key, tmp_path):
    marker = tmp_path / "marker"
    name = payloads(marker)[0]
    golden_set = services.golden_set_create(project=project, name=name)
    # the columns' limits (case_id 64, prompt_version 100) and PostgreSQL's text (no NUL) bound what is stored
    shorts = ['"""', "'''", "\\", 'a\nb"', "{}", "\u2028"]
    cases = [
        {**c, "case_id": s, "model": "m", "prompt_version": s}
        for c, s in zip(hostile_cases(marker)[: len(shorts)], shorts, strict=True)
    ]
    services.golden_items_import(golden_set=golden_set, cases=cases)
    response = client.get(
        f"/api/v1/golden-sets/{golden_set.pk}/versions/1/export",
        {"format": "pytest"},
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )
    assert response.status_code == 200
    path = tmp_path / response["Content-Disposition"].split('filename="')[1].rstrip('"')
    path.write_bytes(response.content)
    result = pytest_run(path, "--co", "-q")
    assert not marker.exists()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 tests collected" in result.stdout
    loader = "import json, runpy, sys; print(json.dumps(runpy.run_path(sys.argv[1])['GOLDEN']['cases']))"
    loaded = json.loads(run(path, "-c", loader).stdout)
    fields = ("case_id", "input_text", "expected_output", "labels", "graders")
    assert [[c[f] for f in fields] for c in loaded] == [[c[f] for f in fields] for c in cases]
    assert not marker.exists()
