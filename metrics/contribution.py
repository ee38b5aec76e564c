"""One trace's contribution to the rollups, from plain rows: pure, no database.

The rollup stage (metrics.services.traces_rollup) reads a batch's traces, spans, scores and signals in a handful
of queries and hands each trace's rows to `trace_contribution`; what comes back is what the trace adds to the
rollup rows of its hour, for every dimension value it has. `rollup_ops` turns a batch of (old, new)
contributions into per-row operations: the old one subtracted, the new one added, so running it twice changes
nothing and a re-scored trace or a late span moves the trace's share instead of adding it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from metrics.accumulators import LATENCY_SKETCH, SIGNAL_RATES, acc_add, acc_of, sketch_of

VALUE_MAX = 200  # Rollup.value
DAY_PREFIX = "d:"  # a UTC day's row of a dimension: dim "d:release", hour = the day's start
ENVIRONMENT_KEYS = ("deployment.environment.name", "deployment.environment")
EXCLUDED_SCORE_SOURCES = ("feedback", "human")  # people's verdicts are signals, not evaluator scores
SHADOW_DIM = "shadow_release"  # the only rows a shadow trace goes to (and their day rows, "d:shadow_release")
EXCLUDED_SCORE_MODES = ("shadow",)  # a shadow evaluator's scores: stored and shown apart, never rolled up


@dataclass
class Contribution:
    hour: datetime
    dims: dict = field(default_factory=dict)  # {"release": "2.4.1", "model": ["gpt-4o"], "environment": ..}
    data: dict = field(default_factory=dict)
    user_id: str = ""
    cost: float = 0.0


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _add(data: dict, key: str, value: float) -> None:
    data[key] = acc_add(data.get(key), acc_of(float(value)))


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


def trace_contribution(
    trace: dict, spans: list[dict], scores: list[dict], signals: list[dict], *, session_completed: bool = False
) -> Contribution:
    """What one trace adds to its hour's rollups.

    trace: start_time, name, release, models_used, status, error_count, duration_ms, cost, user_id, traffic
    ("shadow": only the shadow_release rows);
    spans: span_id, kind, status, duration_ms, ttft_ms, output_tokens, sdk_scores, environment (the root's
    resource deployment.environment[.name], else "");
    scores: evaluator, value, passed (done, not feedback or human); signals: kind, value;
    session_completed: the trace's session has a task-completed signal (cost per successful task).
    """
    data: dict = {}
    for score in scores:
        _score(data, score.get("evaluator"), score.get("value"), score.get("passed"))
    for span in spans:
        for sdk in span.get("sdk_scores") or []:
            if isinstance(sdk, dict):
                _score(data, sdk.get("evaluator") or sdk.get("name"), sdk.get("value"), sdk.get("passed"))
    kinds: dict[str, int] = {}
    for signal in signals:
        kinds[signal["kind"]] = kinds.get(signal["kind"], 0) + 1
        value = _number(signal.get("value"))
        if value is not None and signal["kind"] in ("rating", "edit"):
            _add(data, "rating" if signal["kind"] == "rating" else "edit_distance", value)
    for kind in SIGNAL_RATES:
        _add(data, f"{kind}_rate", 1.0 if kinds.get(kind) else 0.0)
    _add(data, "error_rate", 1.0 if trace.get("status") == "error" or trace.get("error_count") else 0.0)
    environment = ""
    for span in spans:
        if span.get("environment") and not environment:
            environment = str(span["environment"])
        if span.get("kind") == "tool":
            _add(data, "tool_failure_rate", 1.0 if span.get("status") == "error" else 0.0)
        elif span.get("kind") == "llm":
            ttft, duration, out = (
                _number(span.get("ttft_ms")),
                _number(span.get("duration_ms")),
                span.get("output_tokens"),
            )
            if ttft is not None and ttft >= 0:
                _add(data, "ttft_ms", ttft)
                if duration is not None and out and duration >= ttft:
                    _add(data, "tpot_ms", (duration - ttft) / out)
    duration = _number(trace.get("duration_ms"))
    if duration is not None and duration >= 0:
        _add(data, "latency_ms", duration)
        data[LATENCY_SKETCH] = sketch_of([duration])
    cost = _number(trace.get("cost")) or 0.0
    _add(data, "cost_per_trace", cost)
    tasks = kinds.get("task_completed", 0)
    if session_completed or tasks:
        _add(data, "success_cost", cost)
    if tasks:
        data["tasks_completed"] = [float(tasks), 1, float(tasks * tasks)]
    if trace.get("traffic") == "shadow":
        # A candidate's answers nobody saw: apart from every row monitors and user-facing charts read, no user cost.
        return Contribution(
            hour=hour_of(trace["start_time"]),
            dims={SHADOW_DIM: (trace.get("release") or "")[:VALUE_MAX]},
            data=data,
            cost=cost,
        )
    dims: dict = {}
    if trace.get("release"):
        dims["release"] = trace["release"][:VALUE_MAX]
    models = sorted({m[:VALUE_MAX] for m in (trace.get("models_used") or "").split() if m})
    if models:
        dims["model"] = models
    if environment:
        dims["environment"] = environment[:VALUE_MAX]
    if trace.get("name"):
        dims["intent"] = trace["name"][:VALUE_MAX]
    return Contribution(
        hour=hour_of(trace["start_time"]), dims=dims, data=data, user_id=trace.get("user_id") or "", cost=cost
    )


def _score(data: dict, evaluator, value, passed) -> None:
    if not evaluator or not isinstance(evaluator, str):
        return
    evaluator = evaluator[:100]
    number = _number(value)
    if number is not None:
        _add(data, f"score:{evaluator}", number)
    if isinstance(passed, bool):
        _add(data, f"pass:{evaluator}", 1.0 if passed else 0.0)


def dim_values(dims: dict) -> list[tuple[str, str]]:
    """Every rollup row a contribution goes to: ("all", "") and one per dimension value; a shadow trace's only
    to ("shadow_release", its release)."""
    if SHADOW_DIM in dims:
        return [(SHADOW_DIM, str(dims[SHADOW_DIM])[:VALUE_MAX])]
    out = [("all", "")]
    for dim in ("release", "model", "environment", "intent"):
        value = dims.get(dim)
        for v in value if isinstance(value, list) else [value] if value else []:
            out.append((dim, str(v)[:VALUE_MAX]))
    return out


def rollup_ops(
    project_id: int, pairs: list[tuple[dict | None, Contribution | None]]
) -> dict[tuple, list[tuple[dict, int]]]:
    """Per rollup key (project, dim, value, hour): the (data, sign) operations of a batch, subtractions first.

    Every contribution goes to its hour's row and to its UTC day's row (dim "d:<dim>", hour = the day's start),
    so a 90-day read merges 90 rows per series instead of 2,160.

    `pairs` holds each trace's old contribution (a dict with hour, dims, data, or None) and its new one. The
    operations are applied one after the other, never netted first: a re-scored trace's [-old, +new] of one
    accumulator nets to count 0, which a merge would drop along with the change in its sum."""
    ops: dict[tuple, list[tuple[dict, int]]] = {}
    for sign in (-1, 1):
        for old, new in pairs:
            source = old if sign < 0 else new
            if source is None:
                continue
            hour = source["hour"] if isinstance(source, dict) else source.hour
            dims = source["dims"] if isinstance(source, dict) else source.dims
            data = source["data"] if isinstance(source, dict) else source.data
            day = hour.replace(hour=0, minute=0, second=0, microsecond=0)
            for dim, value in dim_values(dims):
                ops.setdefault((project_id, dim, value, hour), []).append((data, sign))
                ops.setdefault((project_id, DAY_PREFIX + dim, value, day), []).append((data, sign))
    return ops
