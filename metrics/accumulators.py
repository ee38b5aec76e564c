"""Mergeable accumulators and the metric catalogue: pure functions, no database.

A mean or a rate is kept as [sum, count, sum of squares]: adding two is adding their parts, subtracting a
trace's old contribution is subtracting them, and the mean and the spread of the items come back exactly. A
quantile (latency p50/p95) is kept as a DDSketch's bins ({key: count} under the library's logarithmic
mapping at 1 % relative accuracy): bins add and subtract the same way, and any quantile of merged hours is
within 1 % of the true one.

Metric keys:
  score:<evaluator>       mean score of that evaluator (rule, judge or SDK scores with a value)
  pass:<evaluator>        its pass rate (scores with passed true/false)
  <signal>_rate           share of traces with that signal: thumbs_down, thumbs_up, rephrase, abandonment,
                          escalation, task_completed
  rating, edit_distance   mean of explicit ratings (0-1) and of edit distances (0-1)
  error_rate              share of traces with an error
  tool_failure_rate       share of tool spans that failed
  latency_p50/p95_ms      trace duration quantiles (sketch)
  latency_ms              trace duration mean
  ttft_ms, tpot_ms        time to first token, time per output token (LLM spans that report them)
  cost_per_trace          mean trace cost (USD)
  cost_per_successful_task  cost of traces in sessions with a task-completed signal / number of such tasks
                          (kept as the pair success_cost / tasks_completed, each a plain accumulator)
  cost_per_user           read from UserCost (sum of cost / distinct users), not from these accumulators
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ddsketch.mapping import LogarithmicMapping

RELATIVE_ACCURACY = 0.01
_MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
SIGNAL_RATES = ("thumbs_down", "thumbs_up", "rephrase", "abandonment", "escalation", "task_completed")


@dataclass(frozen=True)
class MetricDef:
    key: str
    label: str
    unit: str = ""  # "", "%", "ms", "$"
    higher_is_better: bool = True
    quantile: float | None = None  # set for sketch metrics: the accumulator read is LATENCY_SKETCH


LATENCY_SKETCH = "latency_sketch"

FIXED: dict[str, MetricDef] = {
    m.key: m
    for m in [
        *(
            MetricDef(
                f"{s}_rate", f"{s.replace('_', ' ').capitalize()} rate", "%", s in ("thumbs_up", "task_completed")
            )
            for s in SIGNAL_RATES
        ),
        MetricDef("rating", "User rating", ""),
        MetricDef("edit_distance", "Edit distance of users' edits", "", False),
        MetricDef("error_rate", "Error rate", "%", False),
        MetricDef("tool_failure_rate", "Tool-failure rate", "%", False),
        MetricDef("latency_ms", "Latency (mean)", "ms", False),
        MetricDef("latency_p50_ms", "Latency p50", "ms", False, quantile=0.5),
        MetricDef("latency_p95_ms", "Latency p95", "ms", False, quantile=0.95),
        MetricDef("ttft_ms", "Time to first token", "ms", False),
        MetricDef("tpot_ms", "Time per output token", "ms", False),
        MetricDef("cost_per_trace", "Cost per trace", "$", False),
        MetricDef("cost_per_successful_task", "Cost per successful task", "$", False),
        MetricDef("cost_per_user", "Cost per user", "$", False),
    ]
}


def metric_def(key: str) -> MetricDef | None:
    """The definition of a metric key, per-evaluator keys included; None for an unknown key."""
    if key in FIXED:
        return FIXED[key]
    kind, _, evaluator = key.partition(":")
    if kind in ("score", "pass") and evaluator and len(evaluator) <= 100:
        label = f"{evaluator} {'score' if kind == 'score' else 'pass rate'}"
        return MetricDef(key, label, "" if kind == "score" else "%", True)
    return None


# ------------------------------------------------------------------ plain accumulators [sum, count, sumsq]


def acc_of(value: float) -> list[float]:
    return [value, 1, value * value]


def acc_add(a: list | None, b: list | None, sign: int = 1) -> list[float]:
    a, b = a or [0, 0, 0], b or [0, 0, 0]
    return [a[0] + sign * b[0], a[1] + sign * b[1], a[2] + sign * b[2]]


def acc_mean(a: list | None) -> float | None:
    return a[0] / a[1] if a and a[1] > 0 else None


def acc_sd(a: list | None) -> float | None:
    """The items' standard deviation (population), None under two items."""
    if not a or a[1] < 2:
        return None
    mean = a[0] / a[1]
    return math.sqrt(max(a[2] / a[1] - mean * mean, 0.0))


# ------------------------------------------------------------------ sketches {"bins": {key: count}, "n": count}


def sketch_of(values: list[float]) -> dict:
    bins: dict[str, int] = {}
    for v in values:
        k = str(_MAPPING.key(max(v, 1e-3)))
        bins[k] = bins.get(k, 0) + 1
    return {"bins": bins, "n": len(values)}


def sketch_add(a: dict | None, b: dict | None, sign: int = 1) -> dict:
    a, b = a or {"bins": {}, "n": 0}, b or {"bins": {}, "n": 0}
    bins = dict(a["bins"])
    for k, c in b["bins"].items():
        left = bins.get(k, 0) + sign * c
        if left:
            bins[k] = left
        else:
            bins.pop(k, None)
    return {"bins": bins, "n": a["n"] + sign * b["n"]}


def sketch_quantile(s: dict | None, q: float) -> float | None:
    if not s or s["n"] <= 0:
        return None
    rank = q * (s["n"] - 1)
    seen = 0
    for k in sorted(s["bins"], key=int):
        seen += s["bins"][k]
        if seen > rank:
            return _MAPPING.value(int(k))
    return _MAPPING.value(int(max(s["bins"], key=int)))


def data_add(a: dict, b: dict, sign: int = 1) -> dict:
    """Merge two rollup `data` dicts (or subtract b); keys whose count falls to 0 are dropped."""
    out = dict(a)
    for key, acc in b.items():
        if isinstance(acc, dict):
            merged = sketch_add(out.get(key), acc, sign)
            keep = merged["n"] > 0
        else:
            merged = acc_add(out.get(key), acc, sign)
            keep = abs(merged[1]) > 1e-9
        if keep:
            out[key] = merged
        else:
            out.pop(key, None)
    return out


def metric_value(key: str, data: dict) -> tuple[float | None, int]:
    """(value, sample size) of a metric from merged accumulators; (None, 0) when there is none."""
    definition = metric_def(key)
    if definition is None:
        return None, 0
    if definition.quantile is not None:
        sketch = data.get(LATENCY_SKETCH)
        return sketch_quantile(sketch, definition.quantile), (sketch or {}).get("n", 0)
    if key == "cost_per_successful_task":
        cost, tasks = data.get("success_cost"), data.get("tasks_completed")
        n = int(tasks[0]) if tasks else 0
        return (cost[0] / n if cost and n else None), n
    acc = data.get(key)
    return acc_mean(acc), int(acc[1]) if acc else 0
