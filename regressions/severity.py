"""A regression's severity from the kind of evaluator that caught it and the size of the drop (pure).

    kind            drop is                                       critical   high      medium    low
    deterministic   the share of items failing a check that       >= 5 %     > 0       -         -
                    must pass on 100 % (JSON, PII, tools...)
    semantic        the relative drop of a judge's mean score     >= 20 %    >= 10 %   >= 5 %    < 5 %
                    or pass rate against the baseline
    metric          the relative move of a paged operational      >= 50 %    >= 20 %   < 20 %    -
                    metric (latency, cost, rates) in its bad
                    direction; a page is never below medium

A deterministic failure is a broken contract, never "low"; an unknown drop reads as high (deterministic) or
medium (the others).
"""

from __future__ import annotations

KINDS = ("deterministic", "semantic", "metric")
ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def severity_for(*, kind: str, drop: float | None) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if kind == "deterministic":
        return "high" if drop is None or drop < 0.05 else "critical"
    if drop is None:
        return "medium"
    drop = abs(drop)
    if kind == "semantic":
        return "critical" if drop >= 0.20 else "high" if drop >= 0.10 else "medium" if drop >= 0.05 else "low"
    return "critical" if drop >= 0.50 else "high" if drop >= 0.20 else "medium"


def worst(*severities: str) -> str:
    """The most severe of several (a recurrence keeps the worse of the old and the new)."""
    return min(severities, key=lambda s: ORDER.get(s, 99))


def relative_drop(baseline: float | None, value: float | None) -> float | None:
    """How much worse `value` is than `baseline`, as a share of the baseline (None when either is unknown)."""
    if baseline is None or value is None or baseline == 0:
        return None
    return (baseline - value) / abs(baseline)
