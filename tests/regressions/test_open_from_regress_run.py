"""A failed peekr_regress run (the real command against a local candidate) opens one regression per golden set:
deterministic graders failing make it at least high, the failed cases' source traces are its examples; the same
candidate failing again adds to it."""

import json

import pytest
from django.core.management import call_command

from annotations import services as review
from annotations.models import RegressionRun
from regressions.models import Regression
from tests.base import make_trace
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.django_db


def cases(trace_ids):
    return [
        {"case_id": "order-status", "input_text": "Return the order status of order 1234 as JSON",
         "source_trace_id": trace_ids[0], "graders": [{"type": "json_valid"}]},
        {"case_id": "refund-contact", "input_text": "Who handles refunds? Answer as JSON",
         "source_trace_id": trace_ids[1], "graders": [{"type": "json_valid"}]},
        {"case_id": "ticket-summary", "input_text": "Summarise ticket 77 as JSON",
         "source_trace_id": trace_ids[2], "graders": [{"type": "json_valid"}]},
    ]  # fmt: skip


def answer(body) -> str:
    question = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    return "The order is on its way!" if "order status" in question else '{"ok": true}'


def regress(tmp_path, target):
    with pytest.raises(SystemExit) as exited:
        call_command("peekr_regress", "--golden-set", "support", "--target", target, "--model", "candidate-7", "--strict-judges",
                     "--junit", str(tmp_path / "junit.xml"))  # fmt: skip
    assert exited.value.code == 1


def test_a_failed_run_opens_one_regression(project, tmp_path):
    trace_ids = [make_trace(project, n_llm=0)[0] for _ in range(3)]
    golden_set = review.golden_set_create(project=project, name="support")
    review.golden_items_import(golden_set=golden_set, cases=cases(trace_ids))

    with FakeOpenAI(answer=answer) as candidate:
        regress(tmp_path, candidate.base_url)

    run = RegressionRun.objects.get()
    regression = Regression.objects.get()
    assert (regression.source, regression.key, regression.regression_run_id) == (
        "regress_run",
        "golden:support",
        run.pk,
    )
    assert regression.release == "candidate-7" and regression.evaluator == "json_valid"
    assert regression.trace_ids == [trace_ids[0]]
    assert regression.drop == pytest.approx(1 / 3) and regression.severity == "critical"  # 33 % of cases broke
    assert regression.details["failed_cases"] == ["order-status"]
    assert "1/3 cases failed" in regression.title

    with FakeOpenAI(answer=answer) as candidate:
        regress(tmp_path, candidate.base_url)
    assert Regression.objects.count() == 1
    regression.refresh_from_db()
    assert regression.occurrences == 2 and regression.status == "open"


def test_a_passing_run_opens_nothing(project, tmp_path):
    golden_set = review.golden_set_create(project=project, name="support")
    review.golden_items_import(golden_set=golden_set, cases=cases(["a" * 32, "b" * 32, "c" * 32]))
    with FakeOpenAI(answer=json.dumps({"ok": True})) as candidate:
        call_command("peekr_regress", "--golden-set", "support", "--target", candidate.base_url, "--model", "m",
                     "--junit", str(tmp_path / "junit.xml"))  # fmt: skip
    assert RegressionRun.objects.get().status == "passed"
    assert not Regression.objects.exists()
