"""A failed canary verdict (releases.services.verdict_publish, as peekr_canary calls it) opens one regression per
failing check, on the candidate release, with the check's example traces; a passing verdict opens nothing; the
same verdict published again adds to the open ones."""

from datetime import UTC, datetime

import pytest

from regressions.models import Regression
from releases import services as release_services
from releases import verdict
from tests.base import make_trace

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def comparison(*, json_failures: int, examples: list[str], faithfulness_c: float = 0.85) -> dict:
    """The shape releases.selectors.compare returns, its verdict from releases.verdict.evaluate (pure)."""
    n = 500
    base = {"pass:json_valid": [n, n, n], "score:faithfulness": [0.85 * n, n, 0.85**2 * n],
            "pass:faithfulness": [0.9 * n, n, 0.9 * n]}  # fmt: skip
    cand = {"pass:json_valid": [n - json_failures, n, n - json_failures],
            "score:faithfulness": [faithfulness_c * n, n, faithfulness_c**2 * n + 0.01 * n],
            "pass:faithfulness": [0.9 * n, n, 0.9 * n]}  # fmt: skip
    result = verdict.evaluate(
        verdict.Side(n, base, 24.0),
        verdict.Side(n, cand, 24.0),
        [("json_valid", "deterministic", None), ("faithfulness", "semantic", 0.7)],
    )
    for check in result["checks"]:
        failed = check["status"] == verdict.FAIL
        check["examples"] = [{"trace_id": t, "name": "answer", "url": ""} for t in examples] if failed else []
    return {
        "baseline": {"version": "1.4.0", "traffic": "production", "traces": n},
        "candidate": {"version": "1.5.0", "traffic": "production", "traces": n},
        "window": {"start": NOW, "end": NOW, "hours": 24.0},
        "rows": [],
        "verdict": result,
    }


@pytest.fixture
def registered():
    from regressions.hooks import on_verdict_failed

    assert any(getattr(h, "__wrapped__", None) is on_verdict_failed for h in release_services.VERDICT_HOOKS)


def test_a_failed_verdict_opens_a_regression_per_failing_check(project, registered):
    bad = [make_trace(project, n_llm=0)[0] for _ in range(2)]
    failed = comparison(json_failures=10, examples=bad)
    assert failed["verdict"]["status"] == "fail"

    release_services.verdict_publish(project=project, comparison=failed)

    regression = Regression.objects.get()  # faithfulness passed: only json_valid failed
    assert (regression.source, regression.key, regression.evaluator) == (
        "verdict",
        "evaluator:json_valid",
        "json_valid",
    )
    assert (regression.release, regression.baseline_release) == ("1.5.0", "1.4.0")
    assert regression.trace_ids == bad
    assert regression.drop == pytest.approx(10 / 500) and regression.severity == "high"  # 2 % broke JSON
    assert "10 of 500 scored answers failed json_valid" in regression.title
    assert regression.source_url == f"/p/{project.pk}/releases?baseline=1.4.0&candidate=1.5.0"
    assert regression.details["window_hours"] == 24.0

    release_services.verdict_publish(project=project, comparison=failed)
    assert Regression.objects.count() == 1
    assert Regression.objects.get().occurrences == 2


def test_a_semantic_drop_is_graded_by_its_size(project, registered):
    failed = comparison(json_failures=0, examples=[], faithfulness_c=0.6)
    assert [c["status"] for c in failed["verdict"]["checks"]] == ["pass", "fail"]
    release_services.verdict_publish(project=project, comparison=failed)
    regression = Regression.objects.get()
    assert regression.evaluator == "faithfulness"
    assert regression.drop == pytest.approx((0.85 - 0.6) / 0.85) and regression.severity == "critical"


def test_a_passing_verdict_opens_nothing(project, registered):
    passed = comparison(json_failures=0, examples=[])
    assert passed["verdict"]["status"] == "pass"
    release_services.verdict_publish(project=project, comparison=passed)
    assert not Regression.objects.exists()
