"""The accumulators are pure: hours merge into the whole exactly, a subtraction undoes an addition, and the
sketch's quantiles stay within 1 % of the true ones."""

import random

import numpy as np
import pytest

from metrics.accumulators import (
    LATENCY_SKETCH,
    acc_of,
    acc_sd,
    data_add,
    metric_value,
    sketch_of,
    sketch_quantile,
)


def _data(values: list[float]) -> dict:
    data: dict = {}
    for v in values:
        data = data_add(data, {"latency_ms": acc_of(v), LATENCY_SKETCH: sketch_of([v])})
    return data


def test_hours_merged_equal_the_whole():
    rng = random.Random(7)
    values = [rng.lognormvariate(6, 1) for _ in range(2400)]
    hours = [_data(values[i : i + 100]) for i in range(0, len(values), 100)]
    merged: dict = {}
    for hour in hours:
        merged = data_add(merged, hour)
    whole = _data(values)

    assert merged[LATENCY_SKETCH] == whole[LATENCY_SKETCH]
    assert merged["latency_ms"][1] == whole["latency_ms"][1] == 2400
    assert metric_value("latency_ms", merged)[0] == pytest.approx(np.mean(values))
    assert acc_sd(merged["latency_ms"]) == pytest.approx(np.std(values))
    assert metric_value("latency_p95_ms", merged) == metric_value("latency_p95_ms", whole)


def test_subtracting_then_adding_a_contribution_changes_nothing():
    base = _data([100.0, 250.0, 900.0])
    trace = _data([420.0])
    moved = data_add(data_add(data_add(base, trace), trace, -1), trace)
    assert moved == data_add(base, trace)
    assert data_add(trace, trace, -1) == {}  # the last trace out leaves nothing behind


@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
def test_sketch_quantiles_are_within_one_percent(q):
    rng = random.Random(3)
    values = [rng.lognormvariate(7, 0.8) for _ in range(20_000)]
    estimate = sketch_quantile(sketch_of(values), q)
    true = float(np.quantile(values, q, method="lower"))
    assert abs(estimate - true) / true <= 0.01
