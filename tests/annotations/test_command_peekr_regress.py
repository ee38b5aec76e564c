import json
import xml.etree.ElementTree as ET

import pytest
from django.core.management import CommandError, call_command

from annotations import services
from annotations.models import RegressionResult, RegressionRun
from tests.fake_openai import FakeOpenAI

RUBRIC = {"type": "rubric", "criteria": "The answer addresses the request.", "pass_threshold": 4}
CASES = [
    {"case_id": "order-status", "input_text": "Return the order status of order 1234 as JSON",
     "graders": [{"type": "json_valid"}, RUBRIC], "labels": ["bad format"]},
    {"case_id": "refund-contact", "input_text": "Who handles refunds? Answer as JSON",
     "graders": [{"type": "json_valid"}, {"type": "pii"}], "labels": ["PII leak"]},
    {"case_id": "ticket-summary", "input_text": "Summarise ticket 77 as JSON",
     "graders": [{"type": "pii"}, RUBRIC], "labels": ["PII leak"]},
]  # fmt: skip


def last_user(body) -> str:
    return [m["content"] for m in body["messages"] if m["role"] == "user"][-1]


def degraded(body) -> str:
    question = last_user(body)
    if "order status" in question:
        return "The order is on its way!"  # not JSON
    if "refunds" in question:
        return '{"contact": "jane.doe@example.com", "phone": "+44 20 7946 0958"}'  # personal data
    return '{"summary": "The customer asked about a late delivery."}'


@pytest.fixture
def golden(project):
    golden_set = services.golden_set_create(project=project, name="support")
    services.golden_items_import(golden_set=golden_set, cases=CASES)
    return golden_set


@pytest.fixture
def judge():
    with FakeOpenAI(answer=json.dumps({"score": 5, "reason": "It answers."})) as server:
        yield server


def run(tmp_path, target, judge, *extra):
    junit = tmp_path / "junit.xml"
    call_command("peekr_regress", "--golden-set", "support", "--target", target, "--model", "candidate-1",
                 "--judge-base-url", judge.base_url, "--judge-model", "judge-1", "--junit", str(junit), *extra)  # fmt: skip
    return junit


@pytest.mark.django_db
def test_a_good_candidate_passes_with_a_junit_file_of_passing_cases(golden, judge, tmp_path, capsys):
    with FakeOpenAI(answer='{"status": "shipped", "summary": "All fine."}') as candidate:
        junit = run(tmp_path, candidate.base_url, judge)
    suite = ET.parse(junit).getroot()
    assert (suite.tag, suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("testsuite", "3", "0", "0")
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names[0] == "order-status Return the order status of order"
    assert not list(suite.iter("failure"))
    run_row = RegressionRun.objects.get()
    assert (run_row.status, run_row.model, run_row.summary["passed"]) == ("passed", "candidate-1", 3)
    assert RegressionResult.objects.filter(run=run_row, passed=True).count() == 3
    graded = {g["grader"] for r in RegressionResult.objects.all() for g in r.grader_results}
    assert graded == {"json_valid", "pii", "rubric"}
    rubric = next(g for g in RegressionResult.objects.first().grader_results if g["grader"] == "rubric")
    assert (rubric["passed"], rubric["value"]) == (True, 1.0)
    assert len(judge.requests) == 2  # two cases have a rubric grader
    assert candidate.requests[0]["body"]["model"] == "candidate-1"
    assert "3/3 passed" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_degraded_candidate_fails_with_exit_code_1_naming_the_failing_cases(golden, judge, tmp_path):
    from evals.modes import rule_mode_set
    from evals.services import rules_for_project

    builtin = rules_for_project(project=golden.project)[0]  # the gate counts blocking evaluators only (evals.modes)
    for name in ("json_valid", "pii"):
        rule_mode_set(rule=builtin, mode="blocking", evaluator=name)
    with FakeOpenAI(answer=degraded) as candidate, pytest.raises(SystemExit) as exited:
        run(tmp_path, candidate.base_url, judge)
    assert exited.value.code == 1
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    failures = {case.get("name").split()[0]: case.find("failure") for case in suite.iter("testcase")}
    assert failures["ticket-summary"] is None
    assert failures["order-status"].get("message") == "order-status: failed graders: json_valid"
    assert failures["refund-contact"].get("message") == "refund-contact: failed graders: pii"
    run_row = RegressionRun.objects.get()
    assert run_row.status == "failed" and sorted(run_row.summary["failed_cases"]) == ["order-status", "refund-contact"]
    stored = {r.item.case_id: r for r in RegressionResult.objects.select_related("item")}
    assert stored["refund-contact"].output.startswith('{"contact"') and not stored["refund-contact"].passed


@pytest.mark.django_db
def test_an_uncalibrated_judge_is_advisory_unless_strict(golden, tmp_path):
    low = FakeOpenAI(answer=json.dumps({"score": 1, "reason": "Off topic."}))
    with low as low_judge, FakeOpenAI(answer='{"status": "shipped"}') as candidate:
        run(tmp_path, candidate.base_url, low_judge)  # passes: the judge is not calibrated yet
        assert "advisory" in (tmp_path / "junit.xml").read_text()
        with pytest.raises(SystemExit) as exited:
            run(tmp_path, candidate.base_url, low_judge, "--strict-judges")
    assert exited.value.code == 1
    assert RegressionRun.objects.order_by("pk").last().summary["failed_cases"] == ["order-status", "ticket-summary"]


@pytest.mark.django_db
def test_a_user_endpoint_through_a_request_template(golden, judge, tmp_path):
    template = json.dumps({"model": "{{model}}", "messages": "{{messages}}", "user": "case {{case_id}}"})
    with FakeOpenAI(answer='{"ok": true}') as endpoint:
        run(tmp_path, endpoint.base_url + "/chat/completions", judge, "--request-template", template,
            "--response-path", "choices.0.message.content")  # fmt: skip
    assert endpoint.requests[0]["body"]["user"] == "case order-status"
    assert endpoint.requests[0]["body"]["messages"][-1]["content"].startswith("Return the order status")
    assert RegressionRun.objects.get().status == "passed"


@pytest.mark.django_db
def test_usage_and_connection_errors_exit_with_2(golden, judge, tmp_path):
    with pytest.raises(CommandError) as no_set:
        call_command("peekr_regress", "--golden-set", "nope", "--target", "http://127.0.0.1:9/v1")
    assert no_set.value.returncode == 2
    with pytest.raises(CommandError, match="cannot reach the candidate") as unreachable:
        run(tmp_path, "http://127.0.0.1:9/v1", judge)
    assert unreachable.value.returncode == 2
    with pytest.raises(CommandError, match="may not judge its own output"):
        call_command("peekr_regress", "--golden-set", "support", "--target", "http://x/v1", "--model", "judge-1",
                     "--judge-base-url", judge.base_url, "--judge-model", "judge-1")  # fmt: skip
