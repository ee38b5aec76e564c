"""Severity from the evaluator's kind and the size of the drop (pure)."""

import pytest

from regressions.severity import relative_drop, severity_for, worst


@pytest.mark.parametrize(
    ("kind", "drop", "expected"),
    [
        ("deterministic", 0.02, "high"),
        ("deterministic", 0.05, "critical"),
        ("deterministic", None, "high"),
        ("semantic", 0.25, "critical"),
        ("semantic", 0.12, "high"),
        ("semantic", 0.06, "medium"),
        ("semantic", 0.01, "low"),
        ("semantic", None, "medium"),
        ("metric", 0.6, "critical"),
        ("metric", 0.3, "high"),
        ("metric", 0.05, "medium"),
    ],
)
def test_it_grades_by_kind_and_drop(kind, drop, expected):
    assert severity_for(kind=kind, drop=drop) == expected


def test_it_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        severity_for(kind="vibes", drop=0.5)


def test_worst_and_relative_drop():
    assert worst("low", "critical", "medium") == "critical"
    assert relative_drop(0.8, 0.6) == pytest.approx(0.25)
    assert relative_drop(None, 0.6) is None and relative_drop(0, 0.5) is None
