"""Candidate vs baseline: may the candidate release take traffic? Pure functions over merged rollup accumulators.

Inputs are what the rollups hold per side: traces and {metric key: [sum, count, sum of squares]}, the keys
`pass:<evaluator>` (1.0 passed / 0.0 failed per scored answer) and `score:<evaluator>` (the score's value).

Checks, one per blocking evaluator (evals.selectors.blocking_evaluators):

- deterministic (rule evaluators): PASS only if 100 % of the candidate's scored answers pass; a single failure
  FAILS. A pass needs at least MIN_SAMPLES scored answers on the candidate, else NOT ENOUGH DATA.
- any check that scored no answer on either side while the candidate has traffic is NOT APPLICABLE (the
  evaluator does not apply to this app: tool checks without tools) and gates nothing.
- semantic (judge evaluators): two tests, one-sided (H1: the candidate is worse), at ALPHA:
  * pass rates: the two-proportion z-test (pooled standard error);
  * means: Welch's t-test (unequal variances, Welch-Satterthwaite degrees of freedom).
  Each needs MIN_SAMPLES items on both sides. FAIL when the drop (baseline - candidate) exceeds MAX_DROP (in
  score / pass-rate units: 0.05 = five points of pass rate) with p < ALPHA; a drop past MAX_DROP without that
  support is NOT ENOUGH DATA (more traces will tell), with the sample it would take;
  anything else passes.

The verdict: "fail" if any check fails, else "not_enough_data" if any check lacks data (or the candidate has no
traffic in the window: never a pass on nothing), else "pass". "Not enough data" says how many more traces are
needed, and how long that takes at the window's rate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import timedelta
from statistics import NormalDist

ALPHA = 0.05
MIN_SAMPLES = 30  # scored items per side before any check may pass (or a semantic one fail)
MAX_DROP = 0.05  # the drop a semantic check tolerates: 5 points of pass rate, 0.05 of a 0-1 score
PASS, FAIL, NOT_ENOUGH, NOT_APPLICABLE = "pass", "fail", "not_enough_data", "not_applicable"
EXIT_CODES = {PASS: 0, FAIL: 1, NOT_ENOUGH: 3}
WINDOW_MAX = timedelta(days=90)
_WINDOW = re.compile(r"^\s*(\d{1,5})\s*([mhd])\s*$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def parse_window(text: str) -> timedelta:
    """ "30m", "24h", "7d" -> a timedelta (from 1 hour to 90 days); ValueError with the reason otherwise."""
    match = _WINDOW.match(text or "")
    if not match:
        raise ValueError(f"window {text!r}: a number and a unit, m, h or d (e.g. 24h, 7d)")
    window = int(match.group(1)) * _UNITS[match.group(2)]
    if not timedelta(hours=1) <= window <= WINDOW_MAX:
        raise ValueError(f"window {text!r}: from 1h to 90d (rollups are hourly)")
    return window


@dataclass(frozen=True)
class Side:
    traces: int
    data: dict  # merged accumulators
    hours: float  # the window's length: the rate at which this side collects traces


@dataclass
class Check:
    evaluator: str
    kind: str  # deterministic | semantic
    threshold: float | None  # a semantic evaluator's pass threshold (shown; the verdict compares sides)
    status: str = PASS
    reason: str = ""
    tests: list[dict] = field(default_factory=list)  # {test, baseline, candidate, n_baseline, n_candidate, delta, p}
    needed: dict | None = None  # {"side", "items", "traces", "eta_minutes"}

    def as_dict(self) -> dict:
        return {
            "evaluator": self.evaluator,
            "kind": self.kind,
            "threshold": self.threshold,
            "status": self.status,
            "reason": self.reason,
            "tests": self.tests,
            "needed": self.needed,
        }


# ------------------------------------------------------------------ distributions (stdlib only)


def normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with df degrees of freedom."""
    tail = 0.5 * betainc(df / 2, 0.5, df / (df + t * t))
    return tail if t > 0 else 1.0 - tail


# ------------------------------------------------------------------ the two tests


def two_proportion_z(pass_b: list | None, pass_c: list | None) -> dict | None:
    """One-sided two-proportion z-test, H1: the candidate's pass rate is lower. None without items."""
    if not pass_b or not pass_c or pass_b[1] <= 0 or pass_c[1] <= 0:
        return None
    nb, nc = pass_b[1], pass_c[1]
    pb, pc = pass_b[0] / nb, pass_c[0] / nc
    pooled = (pass_b[0] + pass_c[0]) / (nb + nc)
    se = math.sqrt(max(pooled * (1 - pooled) * (1 / nb + 1 / nc), 0.0))
    delta = pb - pc
    p = (0.0 if delta > 0 else 1.0) if se == 0 else normal_sf(delta / se)
    return {"test": "two-proportion z-test", "measure": "pass rate", "baseline": pb, "candidate": pc,
            "n_baseline": int(nb), "n_candidate": int(nc), "delta": delta, "se": se, "p": p}  # fmt: skip


def _variance(acc: list) -> float:
    n = acc[1]
    return max((acc[2] - acc[0] * acc[0] / n) / (n - 1), 0.0) if n > 1 else 0.0


def welch_t(score_b: list | None, score_c: list | None) -> dict | None:
    """One-sided Welch's t-test, H1: the candidate's mean score is lower. None without items."""
    if not score_b or not score_c or score_b[1] <= 0 or score_c[1] <= 0:
        return None
    nb, nc = score_b[1], score_c[1]
    vb, vc = _variance(score_b) / nb, _variance(score_c) / nc
    se = math.sqrt(vb + vc)
    delta = score_b[0] / nb - score_c[0] / nc
    if se == 0:
        p = 0.0 if delta > 0 else 1.0
    else:
        df = (vb + vc) ** 2 / ((vb * vb / (nb - 1) if nb > 1 else 0) + (vc * vc / (nc - 1) if nc > 1 else 0) or 1e-300)
        p = t_sf(delta / se, max(df, 1.0))
    return {"test": "Welch's t-test", "measure": "mean score", "baseline": score_b[0] / nb,
            "candidate": score_c[0] / nc, "n_baseline": int(nb), "n_candidate": int(nc), "delta": delta, "se": se,
            "p": p}  # fmt: skip


# ------------------------------------------------------------------ checks and the verdict


def _needed(side: str, items: float, s: Side, key: str) -> dict:
    """`items` more scored items on one side, in traces (its share of scored traces) and minutes at its rate."""
    acc = s.data.get(key)
    per_trace = (acc[1] / s.traces) if acc and s.traces else 1.0
    traces = math.ceil(max(items, 0) / per_trace) if per_trace > 0 else None
    rate = s.traces / s.hours if s.hours > 0 else 0.0
    eta = round(traces / rate * 60, 1) if traces is not None and rate > 0 else None
    return {"side": side, "items": math.ceil(max(items, 0)), "traces": traces, "eta_minutes": eta}


def _never_scored(check: Check, baseline: Side, candidate: Side) -> bool:
    """Neither side has a single score of this evaluator while the candidate has traffic: the check does not
    apply to this app (a tool-failure check where no tool is called). Not applicable, never "not enough data"
    forever."""
    keys = (f"pass:{check.evaluator}", f"score:{check.evaluator}")
    scored = [(s.data.get(k) or [0, 0])[1] for s in (baseline, candidate) for k in keys]
    if candidate.traces > 0 and not any(scored):
        check.status = NOT_APPLICABLE
        check.reason = "no answer on either side was scored by it: it does not apply to this traffic"
        return True
    return False


def _deterministic(check: Check, candidate: Side, min_samples: int) -> None:
    key = f"pass:{check.evaluator}"
    acc = candidate.data.get(key)
    n = int(acc[1]) if acc else 0
    failures = n - round(acc[0]) if acc else 0
    check.tests.append({"test": "100 % pass", "measure": "pass rate", "candidate": (acc[0] / n) if n else None,
                        "n_candidate": n, "failures": failures})  # fmt: skip
    if failures > 0:
        check.status = FAIL
        check.reason = f"{failures} of {n} scored answers failed {check.evaluator} (100 % must pass)"
    elif n < min_samples:
        check.status = NOT_ENOUGH
        check.reason = f"{n} scored answers, {min_samples} needed"
        check.needed = _needed("candidate", min_samples - n, candidate, key)
    else:
        check.reason = f"all {n} scored answers passed"


def _semantic(check: Check, baseline: Side, candidate: Side, alpha: float, min_samples: int, threshold: float) -> None:
    z_alpha = NormalDist().inv_cdf(1 - alpha)
    results = []
    for key, test in ((f"pass:{check.evaluator}", two_proportion_z), (f"score:{check.evaluator}", welch_t)):
        result = test(baseline.data.get(key), candidate.data.get(key))
        if result is not None:
            result["key"] = key
            results.append(result)
    check.tests = results
    if not results:
        check.status = NOT_ENOUGH
        check.reason = "no scores on one side or both"
        key = f"score:{check.evaluator}"
        scored = candidate.data.get(key) or candidate.data.get(f"pass:{check.evaluator}")
        side, s = ("baseline", baseline) if scored else ("candidate", candidate)
        check.needed = _needed(side, min_samples, s, key)
        return
    short = []
    for r in results:
        for side, s, n in (("baseline", baseline, r["n_baseline"]), ("candidate", candidate, r["n_candidate"])):
            if n < min_samples:
                short.append(_needed(side, min_samples - n, s, r["key"]))
    if short:
        check.status = NOT_ENOUGH
        check.reason = f"fewer than {min_samples} scored items on a side"
        check.needed = max(short, key=lambda x: x["traces"] or 0)
        return
    failed = [r for r in results if r["delta"] > threshold and r["p"] < alpha]
    if failed:
        r = failed[0]
        check.status = FAIL
        check.reason = (f"{r['measure']} {r['candidate']:.3f} vs {r['baseline']:.3f}: a drop of {r['delta']:.3f} > "
                        f"{threshold:g} ({r['test']}, one-sided p = {r['p']:.2g} < {alpha:g})")  # fmt: skip
        return
    unsure = [r for r in results if r["delta"] > threshold]
    if unsure:
        r = unsure[0]
        # Both sides grow together during a canary: the standard error shrinks as 1/sqrt(k) for k times the sample.
        k = (r["se"] * z_alpha / r["delta"]) ** 2 if r["delta"] > 0 else 1.0
        check.status = NOT_ENOUGH
        check.reason = (f"{r['measure']} dropped {r['delta']:.3f} > {threshold:g} but without support yet "
                        f"({r['test']}, p = {r['p']:.2g} >= {alpha:g})")  # fmt: skip
        check.needed = _needed("candidate", r["n_candidate"] * max(k - 1, 0), candidate, r["key"])
        return
    worst = max(results, key=lambda r: r["delta"])
    check.reason = f"{worst['measure']} {worst['candidate']:.3f} vs {worst['baseline']:.3f} (drop within {threshold:g})"


def evaluate(
    baseline: Side,
    candidate: Side,
    checks: list[tuple[str, str, float | None]],
    *,
    alpha: float = ALPHA,
    min_samples: int = MIN_SAMPLES,
    max_drop: float = MAX_DROP,
) -> dict:
    """The verdict of candidate vs baseline on the blocking checks [(evaluator, kind, threshold)]."""
    out = [Check(evaluator=name, kind=kind, threshold=threshold) for name, kind, threshold in checks]
    for check in out:
        if _never_scored(check, baseline, candidate):
            continue
        if check.kind == "deterministic":
            _deterministic(check, candidate, min_samples)
        else:
            _semantic(check, baseline, candidate, alpha, min_samples, max_drop)
    statuses = {c.status for c in out}
    needed = [c.needed for c in out if c.status == NOT_ENOUGH and c.needed]
    if candidate.traces == 0:
        status, reason = NOT_ENOUGH, "the candidate has no traffic in the window"
        needed = [_needed("candidate", min_samples, candidate, "")]
    elif FAIL in statuses:
        status = FAIL
        reason = "; ".join(f"{c.evaluator}: {c.reason}" for c in out if c.status == FAIL)
    elif NOT_ENOUGH in statuses:
        status = NOT_ENOUGH
        reason = "; ".join(f"{c.evaluator}: {c.reason}" for c in out if c.status == NOT_ENOUGH)
    else:
        status = PASS
        reason = "every blocking check passed" if out else "no blocking evaluators: nothing gates this release"
    most = max(needed, key=lambda x: x["traces"] or 0) if needed else None
    return {
        "status": status,
        "exit_code": EXIT_CODES[status],
        "reason": reason,
        "checks": [c.as_dict() for c in out],
        "needed": most,
        "alpha": alpha,
        "min_samples": min_samples,
        "max_drop": max_drop,
    }
