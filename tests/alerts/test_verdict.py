"""alerts.verdict.evaluate, the pure verdict of one evaluation: bands, sustain, sample size, direction."""

import math

import pytest

from alerts.verdict import Stats, Thresholds, daily_values, evaluate, moved_most, spread_of, thresholds_problem

BASE = Stats(0.85, 3000, 0.10)  # 7 days of faithfulness scores, items spread 0.10
DAILY = [0.85, 0.851, 0.849, 0.852, 0.848, 0.85, 0.85]  # a normal day moves ~0.0014
# spread = max(stdev(DAILY) ~0.0014, 0.10 / sqrt(500) ~0.0045, 1 % of 0.85 = 0.0085) = 0.0085


def verdict_of(value, n=500, *, direction="down", previous=0, last_hour=None, baseline=BASE, **t):
    return evaluate(
        window=Stats(value, n, 0.1),
        baseline=baseline,
        daily=DAILY,
        direction=direction,
        thresholds=Thresholds(**t),
        previous_consecutive=previous,
        last_hour=last_hour,
    )


@pytest.mark.parametrize(
    ("value", "direction", "previous", "band", "consecutive"),
    [
        (0.85, "down", 0, "pass", 0),  # right on the baseline
        (0.83, "down", 0, "pass", 0),  # 2.4 spreads down: within
        (0.82, "down", 0, "review", 0),  # 3.5 spreads: review
        (0.80, "down", 0, "review", 1),  # 5.9 spreads: page band, 1 of 3
        (0.80, "down", 1, "review", 2),  # 2 of 3: still review
        (0.80, "down", 2, "page", 3),  # 3 consecutive page-band evaluations: page
        (0.80, "down", 7, "page", 8),
        (0.90, "down", 2, "pass", 0),  # better than usual: never bad, the count starts again
        (0.90, "up", 2, "page", 3),  # the same move when a rise is bad
        (0.80, "up", 2, "pass", 0),
    ],
)
def test_bands(value, direction, previous, band, consecutive):
    v = verdict_of(value, direction=direction, previous=previous)
    assert (v.band, v.consecutive) == (band, consecutive)
    assert v.spread == pytest.approx(0.0085)
    assert v.delta == pytest.approx(value - 0.85)


def test_a_sample_under_the_minimum_gets_no_verdict_even_far_off():
    assert verdict_of(0.1, n=29, previous=2).band == "insufficient"
    assert verdict_of(0.1, n=29, previous=2).consecutive == 0
    assert verdict_of(0.1, baseline=Stats(0.85, 10, 0.1)).band == "insufficient"
    assert verdict_of(None).band == "insufficient"
    assert verdict_of(0.1, n=5, min_sample=5, previous=2).band == "page"


def test_the_spread_is_the_largest_of_day_to_day_noise_standard_error_and_the_floor():
    assert spread_of(baseline=0.85, daily=[0.7, 0.9, 0.8], item_sd=0.1, n=500) == pytest.approx(0.1)
    assert spread_of(baseline=0.85, daily=[0.85, 0.85], item_sd=0.3, n=100) == pytest.approx(0.03)
    assert spread_of(baseline=0.85, daily=[0.85], item_sd=None, n=100) == pytest.approx(0.0085)
    assert spread_of(baseline=0.0, daily=[], item_sd=0.0, n=100) == pytest.approx(1e-9)


def test_a_one_hour_dip_is_review_and_never_pages():
    # 100 items an hour at 0.85, then one hour at 0.40: the 24 h mean moves 0.45 / 24 = 0.019 (2.2 spreads)
    hour = Stats(0.40, 100)
    window_mean = (23 * 0.85 + 0.40) / 24
    previous = 0
    for _ in range(12):  # an hour of evaluations every 5 minutes
        v = verdict_of(window_mean, n=2400, previous=previous, last_hour=hour)
        assert v.band == "review" and v.hour_z > 3
        previous = v.consecutive
    assert previous == 0
    # the hour is over: the 24 h mean alone is within
    assert verdict_of(window_mean, n=2400, last_hour=Stats(0.85, 100)).band == "pass"


def test_a_tiny_last_hour_does_not_send_to_review():
    assert verdict_of(0.85, last_hour=Stats(0.1, 3)).band == "pass"


@pytest.mark.parametrize(
    ("kw", "problem"),
    [
        ({}, ""),
        ({"review_sigma": -1}, "review_sigma must be a positive finite number"),
        ({"page_sigma": math.nan}, "page_sigma must be a positive finite number"),
        ({"page_sigma": math.inf}, "page_sigma must be a positive finite number"),
        ({"review_sigma": 4, "page_sigma": 3}, "page_sigma (3) must not be below review_sigma (4)"),
        ({"sustain_count": 0}, "sustain_count must be an integer from 1 to 100"),
        ({"min_sample": 0}, "min_sample must be an integer from 1"),
    ],
)
def test_thresholds_problem(kw, problem):
    values = {"review_sigma": 3.0, "page_sigma": 5.0, "sustain_count": 3, "min_sample": 30, **kw}
    found = thresholds_problem(**values)
    assert found.startswith(problem) if problem else found == ""


def test_daily_values_are_24_hour_slices_weighted_by_sample():
    points = [(0.1, 1.0, 10), (0.9, 0.0, 30), (1.5, 0.5, 5), (7.2, 9.9, 100), (3.0, None, 0)]
    assert daily_values(points) == [pytest.approx(0.25), pytest.approx(0.5)]


def test_moved_most_names_the_release_that_dropped():
    now = [("release", "2.4.1", 0.61, 300), ("release", "2.4.0", 0.84, 900), ("model", "gpt-4o", 0.78, 1200)]
    base = [("release", "2.4.0", 0.83, 9000), ("model", "gpt-4o", 0.83, 9000)]
    found = moved_most(now_rows=now, base_rows=base, overall_baseline=0.83, direction="down", min_n=10)
    assert found["text"] == "release 2.4.1: 0.61 vs 0.83"
    assert (found["dim"], found["value"], found["n"]) == ("release", "2.4.1", 300)
    assert moved_most(now_rows=now, base_rows=base, overall_baseline=0.83, direction="up", min_n=10)["value"] == "2.4.0"
    assert moved_most(now_rows=now[:1], base_rows=base, overall_baseline=0.83, direction="down", min_n=500) is None
