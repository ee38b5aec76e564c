"""releases.verdict, pure and table-driven: 100 % on deterministic checks, one-sided tests with minimum samples on
semantic ones, "not enough data" with how much more is needed, never a pass on no traffic."""

import math
import random

import pytest
from scipy import stats

from releases.verdict import Side, betainc, evaluate, parse_window, t_sf, two_proportion_z, welch_t


def acc(values):
    return [float(sum(values)), len(values), float(sum(v * v for v in values))]


def passes(n, failures=0):
    return acc([0.0] * failures + [1.0] * (n - failures))


def normal(n, mean, sd=0.1, seed=1):
    rng = random.Random(seed)
    return acc([rng.gauss(mean, sd) for _ in range(n)])


def side(traces, hours=24.0, **data):
    return Side(traces=traces, data={k.replace("__", ":"): v for k, v in data.items()}, hours=hours)


JSON = [("json_valid", "deterministic", None)]
FAITH = [("faithfulness", "semantic", 0.7)]

CASES = [
    # (name, baseline, candidate, checks, verdict, failing/short check)
    ("clean deterministic", side(500, pass__json_valid=passes(500)), side(200, pass__json_valid=passes(200)), JSON,
     "pass", None),
    ("2 % broken JSON fails on one sample", side(500, pass__json_valid=passes(500)),
     side(200, pass__json_valid=passes(200, 4)), JSON, "fail", "json_valid"),
    ("one failure is enough", side(500, pass__json_valid=passes(500)), side(20, pass__json_valid=passes(20, 1)), JSON,
     "fail", "json_valid"),
    ("too few deterministic items", side(500, pass__json_valid=passes(500)), side(12, pass__json_valid=passes(12)),
     JSON, "not_enough_data", "json_valid"),
    ("no traffic is never a pass", side(500, pass__json_valid=passes(500)), side(0), JSON, "not_enough_data", None),
    ("no traffic, no checks", side(500), side(0), [], "not_enough_data", None),
    ("no blocking checks", side(500), side(100), [], "pass", None),
    ("semantic equal", side(300, score__faithfulness=normal(300, 0.85)),
     side(300, score__faithfulness=normal(300, 0.85, seed=2)), FAITH, "pass", None),
    ("semantic much worse, big sample", side(300, score__faithfulness=normal(300, 0.85)),
     side(300, score__faithfulness=normal(300, 0.70, seed=2)), FAITH, "fail", "faithfulness"),
    ("semantic slightly worse, too few", side(300, score__faithfulness=normal(300, 0.85)),
     side(20, score__faithfulness=normal(20, 0.82, seed=2)), FAITH, "not_enough_data", "faithfulness"),
    ("worse beyond the drop without support",
        side(40, score__faithfulness=acc([0.45, 1.25] * 20)),
        side(40, score__faithfulness=acc([0.35, 1.15] * 20)),
        FAITH,
        "not_enough_data", "faithfulness"),
    ("within the tolerated drop, significant", side(5000, score__faithfulness=normal(5000, 0.85)),
     side(5000, score__faithfulness=normal(5000, 0.82, seed=2)), FAITH, "pass", None),
    ("pass rate drop", side(400, pass__faithfulness=passes(400, 40)), side(400, pass__faithfulness=passes(400, 120)),
     FAITH, "fail", "faithfulness"),
    ("no candidate scores", side(400, pass__faithfulness=passes(400)), side(50), FAITH, "not_enough_data",
     "faithfulness"),
    ("better is fine", side(400, pass__faithfulness=passes(400, 120)), side(400, pass__faithfulness=passes(400, 40)),
     FAITH, "pass", None),
    ("a check neither side ever scored does not apply", side(500, pass__json_valid=passes(500)),
     side(200, pass__json_valid=passes(200)), JSON + [("tool_failure", "deterministic", None)], "pass", None),
    ("a check scored only on the baseline still waits", side(500, pass__tool_failure=passes(500)),
     side(200), [("tool_failure", "deterministic", None)], "not_enough_data", "tool_failure"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "baseline", "candidate", "checks", "expected", "check"), CASES, ids=[c[0] for c in CASES]
)
def test_the_verdict(name, baseline, candidate, checks, expected, check):
    result = evaluate(baseline, candidate, checks)
    assert result["status"] == expected, result
    assert result["exit_code"] == {"pass": 0, "fail": 1, "not_enough_data": 3}[expected]
    if check:
        assert [c["evaluator"] for c in result["checks"] if c["status"] == expected] == [check]
    if expected == "not_enough_data":
        assert result["needed"]["traces"] > 0, result


def test_not_enough_data_says_how_many_more_traces_and_how_long():
    # 12 scored answers in 6 h: 2 an hour; 18 more needed -> 9 h.
    result = evaluate(side(100), side(12, hours=6.0, pass__json_valid=passes(12)), JSON)
    assert result["needed"] == {"side": "candidate", "items": 18, "traces": 18, "eta_minutes": 540.0}


def test_a_failure_names_the_check_and_the_count():
    result = evaluate(side(100), side(200, pass__json_valid=passes(200, 4)), JSON)
    assert "json_valid" in result["reason"] and "4 of 200" in result["reason"]


@pytest.mark.parametrize(("t", "df"), [(0.5, 3), (1.7, 29), (2.4, 57.3), (-1.2, 40), (4.0, 120)])
def test_the_t_tail_matches_scipy(t, df):
    assert math.isclose(t_sf(t, df), stats.t.sf(t, df), rel_tol=1e-9)
    assert math.isclose(betainc(2.5, 0.5, 0.3), stats.beta.cdf(0.3, 2.5, 0.5), rel_tol=1e-9)


def test_the_tests_match_scipy():
    b, c = [0.9, 0.8, 0.85, 0.95, 0.7, 0.88] * 6, [0.7, 0.8, 0.75, 0.6, 0.9, 0.72] * 6
    welch = welch_t(acc(b), acc(c))
    assert math.isclose(welch["p"], stats.ttest_ind(b, c, equal_var=False, alternative="greater").pvalue, rel_tol=1e-6)
    z = two_proportion_z(passes(200, 20), passes(180, 40))
    p1, p2, pooled = 180 / 200, 140 / 180, 320 / 380
    expected = stats.norm.sf((p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / 200 + 1 / 180)))
    assert math.isclose(z["p"], expected, rel_tol=1e-9)


@pytest.mark.parametrize(("text", "hours"), [("24h", 24), ("7d", 168), ("90m", 1.5), (" 2 h ", 2)])
def test_windows(text, hours):
    assert parse_window(text).total_seconds() == hours * 3600


@pytest.mark.parametrize("text", ["", "24", "1w", "30m", "91d", "-1h", "h"])
def test_bad_windows_say_why(text):
    with pytest.raises(ValueError, match="window"):
        parse_window(text)
