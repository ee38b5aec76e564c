"""The verdict of one monitor evaluation: pure functions, no database.

A metric's last 24 hours are compared with its baseline, the 7 days before those 24 hours.

    delta  = 24 h mean - baseline mean, signed so that a positive `bad` is the monitor's bad direction
    spread = max(
        sd of the baseline's 7 daily values,   how much a normal day moves (needs 2 days or more)
        item sd / sqrt(n 24 h),                 the noise of a mean of that many items (standard error)
        1 % of |baseline| (and 1e-9),           a floor: a perfectly flat baseline must not page on a hair
    )
    z      = bad / spread

Bands (defaults: review 3 spreads, page 5 spreads, sustained 3 evaluations, 30 items):
- insufficient: fewer than `min_sample` items in the 24 h window or in the baseline: no verdict at all;
- page: z >= page_sigma on `sustain_count` consecutive evaluations (at the 5-minute default, 15 minutes). A
  single bad batch lands in one hour; in a 24 h mean it is diluted about 1/24 and it ends up far below the page
  line, and even a very bad one has to last three evaluations;
- review: z >= review_sigma, or a page-band evaluation not yet sustained, or (checked only when the 24 h mean
  passes) the last hour alone past review_sigma against the baseline with the hour's own standard error: that
  is how a one-hour dip reaches the review queue without ever paging;
- pass otherwise.

A page-band evaluation counts towards `consecutive`; any other verdict sets it back to 0.

Per-user cost (`user_cost_verdict`): a user's 24 h cost against `factor` times their own daily average over
the baseline week (at least `floor` dollars, so a new user's first dollar is not a runaway); page past
`factor`, sustained the same way, review past half of it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

REVIEW_SIGMA = 3.0
PAGE_SIGMA = 5.0
SUSTAIN_COUNT = 3
MIN_SAMPLE = 30
RELATIVE_FLOOR = 0.01
USER_COST_FACTOR = 5.0
USER_COST_FLOOR_USD = 1.0


@dataclass(frozen=True)
class Stats:
    """A window's mean, sample size and the spread of its items (None for quantile metrics)."""

    value: float | None
    n: int
    sd: float | None = None


@dataclass(frozen=True)
class Thresholds:
    review_sigma: float = REVIEW_SIGMA
    page_sigma: float = PAGE_SIGMA
    sustain_count: int = SUSTAIN_COUNT
    min_sample: int = MIN_SAMPLE


@dataclass(frozen=True)
class Verdict:
    band: str  # insufficient | pass | review | page
    consecutive: int  # page-band evaluations in a row, this one included
    delta: float | None = None  # 24 h mean - baseline (not signed by direction)
    spread: float | None = None
    z: float | None = None  # deviation in the bad direction, in spreads (negative: better than usual)
    reason: str = ""
    hour_z: float | None = None  # the last hour's deviation, when it was checked


def thresholds_problem(*, review_sigma: float, page_sigma: float, sustain_count: int, min_sample: int) -> str:
    """Why these thresholds are refused, or "" when they are fine."""
    for name, value in (("review_sigma", review_sigma), ("page_sigma", page_sigma)):
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            return f"{name} must be a positive finite number of spreads, got {value!r}"
    if page_sigma < review_sigma:
        return f"page_sigma ({page_sigma}) must not be below review_sigma ({review_sigma})"
    if not isinstance(sustain_count, int) or not 1 <= sustain_count <= 100:
        return f"sustain_count must be an integer from 1 to 100, got {sustain_count!r}"
    if not isinstance(min_sample, int) or not 1 <= min_sample <= 1_000_000:
        return f"min_sample must be an integer from 1 to 1000000, got {min_sample!r}"
    return ""


def spread_of(*, baseline: float, daily: Sequence[float], item_sd: float | None, n: int) -> float:
    parts = [abs(baseline) * RELATIVE_FLOOR, 1e-9]
    days = [d for d in daily if d is not None and math.isfinite(d)]
    if len(days) >= 2:
        parts.append(statistics.stdev(days))
    if item_sd is not None and n > 0:
        parts.append(item_sd / math.sqrt(n))
    return max(parts)


def evaluate(
    *,
    window: Stats,
    baseline: Stats,
    daily: Sequence[float],
    direction: str,
    thresholds: Thresholds = Thresholds(),
    previous_consecutive: int = 0,
    last_hour: Stats | None = None,
) -> Verdict:
    """The verdict of one evaluation (see the module docstring)."""
    t = thresholds
    if window.value is None or window.n < t.min_sample:
        return Verdict("insufficient", 0, reason=f"{window.n} items in the last 24 h, {t.min_sample} needed")
    if baseline.value is None or baseline.n < t.min_sample:
        return Verdict("insufficient", 0, reason=f"{baseline.n} items in the 7-day baseline, {t.min_sample} needed")
    sign = 1.0 if direction == "up" else -1.0
    item_sd = baseline.sd if baseline.sd is not None else window.sd
    spread = spread_of(baseline=baseline.value, daily=daily, item_sd=item_sd, n=window.n)
    delta = window.value - baseline.value
    z = sign * delta / spread
    if z >= t.page_sigma:
        consecutive = previous_consecutive + 1
        if consecutive >= t.sustain_count:
            return Verdict("page", consecutive, delta, spread, z, f"{z:.1f} spreads off for {consecutive} evaluations")
        reason = f"{z:.1f} spreads off, {consecutive} of {t.sustain_count} evaluations before a page"
        return Verdict("review", consecutive, delta, spread, z, reason)
    if z >= t.review_sigma:
        return Verdict("review", 0, delta, spread, z, f"{z:.1f} spreads off the baseline")
    hour_z = None
    if last_hour is not None and last_hour.value is not None and last_hour.n > 0:
        hour_spread = spread_of(baseline=baseline.value, daily=daily, item_sd=item_sd, n=last_hour.n)
        hour_z = sign * (last_hour.value - baseline.value) / hour_spread
        if hour_z >= t.review_sigma and last_hour.n >= max(1, t.min_sample // 3):
            reason = f"the last hour is {hour_z:.1f} spreads off ({last_hour.n} items); the 24 h mean is within"
            return Verdict("review", 0, delta, spread, z, reason, hour_z)
    return Verdict("pass", 0, delta, spread, z, "within the baseline's spread", hour_z)


@dataclass(frozen=True)
class UserCostVerdict:
    band: str  # pass | review | page
    consecutive: int
    user_id: str = ""
    cost_24h: float = 0.0
    baseline_daily: float = 0.0  # the user's average daily cost over the baseline week
    ratio: float = 0.0
    reason: str = ""


def user_cost_verdict(
    *,
    costs_24h: dict[str, float],
    costs_baseline: dict[str, float],
    baseline_days: float = 7.0,
    factor: float = USER_COST_FACTOR,
    floor: float = USER_COST_FLOOR_USD,
    thresholds: Thresholds = Thresholds(),
    previous_consecutive: int = 0,
) -> UserCostVerdict:
    """The user whose 24 h cost is the most times their own daily baseline, and the band that puts them in."""
    worst: UserCostVerdict | None = None
    for user_id, cost in costs_24h.items():
        if not user_id:
            continue
        daily = costs_baseline.get(user_id, 0.0) / baseline_days
        ratio = cost / max(daily, floor)
        if worst is None or ratio > worst.ratio:
            worst = UserCostVerdict("pass", 0, user_id, cost, daily, ratio)
    if worst is None:
        return UserCostVerdict("pass", 0, reason="no user's cost in the last 24 h")
    desc = f"user {worst.user_id}: ${worst.cost_24h:.2f} in 24 h vs ${worst.baseline_daily:.2f} a day"
    if worst.ratio >= factor:
        consecutive = previous_consecutive + 1
        band = "page" if consecutive >= thresholds.sustain_count else "review"
        return UserCostVerdict(
            band, consecutive, worst.user_id, worst.cost_24h, worst.baseline_daily, worst.ratio, desc
        )
    band = "review" if worst.ratio >= factor / 2 else "pass"
    return UserCostVerdict(band, 0, worst.user_id, worst.cost_24h, worst.baseline_daily, worst.ratio, desc)


def daily_values(points: Sequence[tuple[float, float | None, int]], days: int = 7) -> list[float]:
    """Per-day means from hourly points given as (days before the baseline's end, value, n): each hour is put in
    the 24 h slice it falls in (0 = the day just before the baseline's end), weighted by its sample size."""
    sums = [0.0] * days
    counts = [0] * days
    for age_days, value, n in points:
        slot = int(age_days)
        if value is None or n <= 0 or not 0 <= slot < days:
            continue
        sums[slot] += value * n
        counts[slot] += n
    return [s / c for s, c in zip(sums, counts, strict=True) if c]


def moved_most(
    *,
    now_rows: Sequence[tuple[str, str, float | None, int]],
    base_rows: Sequence[tuple[str, str, float | None, int]],
    overall_baseline: float,
    direction: str,
    min_n: int,
) -> dict | None:
    """The dimension value that moved most in the bad direction: rows are (dim, value, mean, n) for the last 24 h
    and for the baseline; a value is compared with its own baseline when it has one of min_n items, else with
    the whole project's (a new release has no baseline of its own)."""
    sign = 1.0 if direction == "up" else -1.0
    base = {(d, v): (m, n) for d, v, m, n in base_rows if m is not None}
    best = None
    for dim, value, mean, n in now_rows:
        if mean is None or n < min_n:
            continue
        own = base.get((dim, value))
        ref = own[0] if own and own[1] >= min_n else overall_baseline
        bad = sign * (mean - ref)
        if bad > 0 and (best is None or bad > best["bad"]):
            best = {"dim": dim, "value": value, "mean_24h": mean, "baseline": ref, "n": n, "bad": bad}
    if best is None:
        return None
    best["text"] = f"{best['dim']} {best['value']}: {_fmt(best['mean_24h'])} vs {_fmt(best['baseline'])}"
    best.pop("bad")
    return best


def _fmt(x: float) -> str:
    return f"{x:.2f}" if abs(x) < 1000 else f"{x:,.0f}"
