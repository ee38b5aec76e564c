"""peekr_regress gates on the project's blocking evaluators only: a shadow or advisory evaluator failing is
reported, never fails the build; a failed run is handed to annotations.services.REGRESS_FAILED_HOOKS."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from django.core.management import call_command

from annotations import services as review
from annotations.models import RegressionRun
from evals.models import EvalRule
from evals.modes import rule_mode_set
from evals.selectors import blocking_evaluators
from evals.services import eval_rule_create, rules_for_project
from tests.fake_openai import FakeOpenAI

CASES = [
    {"case_id": "order-status", "input_text": "Return the order status of order 1234 as JSON",
     "graders": [{"type": "json_valid"}]},
    {"case_id": "refund-contact", "input_text": "Who handles refunds? Answer as JSON",
     "graders": [{"type": "json_valid"}, {"type": "pii"}]},
]  # fmt: skip


def degraded(body) -> str:
    question = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    if "order status" in question:
        return "The order is on its way!"  # not JSON
    return '{"contact": "jane.doe@example.com", "phone": "+44 20 7946 0958"}'  # JSON, with personal data


@pytest.fixture
def golden(project):
    golden_set = review.golden_set_create(project=project, name="support")
    review.golden_items_import(golden_set=golden_set, cases=CASES)
    return golden_set


@pytest.fixture
def failed_runs():
    seen: list = []
    review.REGRESS_FAILED_HOOKS.append(seen.append)
    yield seen
    review.REGRESS_FAILED_HOOKS.remove(seen.append)


def regress(tmp_path, target: str) -> int:
    try:
        call_command("peekr_regress", "--golden-set", "support", "--target", target, "--model", "candidate-1",
                     "--junit", str(tmp_path / "junit.xml"))  # fmt: skip
    except SystemExit as exited:
        return exited.code
    return 0


@pytest.mark.django_db
def test_without_blocking_evaluators_failures_are_reported_not_gated(golden, tmp_path, capsys, failed_runs):
    rule_mode_set(rule=rules_for_project(project=golden.project)[0], mode="advisory", actor="tests")
    eval_rule_create(project=golden.project, name="pii in shadow", evaluators=["pii"])
    with FakeOpenAI(answer=degraded) as candidate:
        assert regress(tmp_path, candidate.base_url) == 0
    assert "advisory: json_valid, pii failed but did not gate" in capsys.readouterr().err
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert (
        suite.get("failures") == "0" and "advisory (not a blocking evaluator)" in (tmp_path / "junit.xml").read_text()
    )
    assert RegressionRun.objects.get().status == "passed" and failed_runs == []


@pytest.mark.django_db
def test_only_the_blocking_evaluator_fails_the_run_and_the_hook_gets_it(golden, tmp_path, failed_runs):
    builtin = rules_for_project(project=golden.project)[0]
    rule_mode_set(rule=builtin, mode="advisory", actor="tests")  # blocking by default: only json_valid here
    rule_mode_set(rule=builtin, mode="blocking", evaluator="json_valid", actor="tests")
    shadow = eval_rule_create(project=golden.project, name="pii in shadow", evaluators=["pii"])
    assert blocking_evaluators(golden.project) == [("json_valid", "deterministic", None)]

    with FakeOpenAI(answer=degraded) as candidate:
        assert regress(tmp_path, candidate.base_url) == 1

    suite = ET.parse(tmp_path / "junit.xml").getroot()
    failures = {case.get("name").split()[0]: case.find("failure") for case in suite.iter("testcase")}
    assert failures["order-status"].get("message") == "order-status: failed graders: json_valid"
    assert failures["refund-contact"] is None  # its pii failure is advisory: pii blocks in no rule
    (run,) = failed_runs
    assert run.pk == RegressionRun.objects.get().pk and run.summary["failed_cases"] == ["order-status"]

    rule_mode_set(rule=shadow, mode="blocking", actor="tests")  # pii now blocks through the user's rule
    with FakeOpenAI(answer=degraded) as candidate:
        assert regress(tmp_path, candidate.base_url) == 1
    assert sorted(RegressionRun.objects.latest("pk").summary["failed_cases"]) == ["order-status", "refund-contact"]


@pytest.mark.django_db
def test_blocking_evaluators_name_kind_and_threshold(project):
    builtin = rules_for_project(project=project)[0]  # blocking by default: its checks are listed too
    assert ("json_valid", "deterministic", None) in blocking_evaluators(project)
    rule_mode_set(rule=builtin, mode="advisory", actor="tests")
    EvalRule.objects.create(project=project, name="judge", evaluators=["faithfulness", "pii"], mode="blocking",
                            evaluator_modes={"pii": "advisory"}, config={"threshold": 0.7})  # fmt: skip
    EvalRule.objects.create(project=project, name="paused", evaluators=["json_valid"], mode="blocking",
                            status="paused")  # fmt: skip
    assert blocking_evaluators(project) == [("faithfulness", "semantic", 0.7)]


@pytest.mark.django_db
def test_a_failing_hook_never_changes_the_runs_outcome(golden, tmp_path):
    def broken(run):
        raise RuntimeError("the regressions app is down")

    rule_mode_set(rule=rules_for_project(project=golden.project)[0], mode="blocking", evaluator="json_valid")
    review.REGRESS_FAILED_HOOKS.append(broken)
    try:
        with FakeOpenAI(answer=json.dumps({"not": "json"})[:-1]) as candidate:
            assert regress(tmp_path, candidate.base_url) == 1
    finally:
        review.REGRESS_FAILED_HOOKS.remove(broken)
    assert RegressionRun.objects.get().status == "failed"
