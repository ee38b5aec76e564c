"""The rollup stage over a batch: what each trace adds, in a fixed number of queries, and the same rows when it
runs twice."""

from datetime import timedelta

import pytest

from metrics.accumulators import metric_value
from metrics.models import Rollup, TraceContribution, UserCost
from metrics.services import traces_rollup
from tests.base import make_production_trace, user_token
from tests.metrics.helpers import NOW, hour_ago, rollup_state
from traces import pipeline


def _batch(project, n: int, hours: int = 1) -> list[int]:
    return [
        make_production_trace(
            project,
            start=hour_ago(hours),
            release="2.0.0" if i % 2 else "1.9.0",
            sdk_scores={"faithfulness": 0.5 + i / 100},
            tool_error=i % 3 == 0,
            user_id=f"user-{i % 2}",
        ).pk
        for i in range(n)
    ]


@pytest.mark.django_db
def test_the_stage_is_registered_after_routing():
    stage = next(s for s in pipeline.STAGES if s.name == "rollup")
    assert (stage.bit, stage.order) == (8, 40)
    assert pipeline.STAGES[-1].name == "rollup"


@pytest.mark.django_db
def test_running_the_stage_twice_leaves_the_same_rollups(project):
    pks = _batch(project, 4)

    assert traces_rollup(pks) == 4
    first = rollup_state(project)
    traces_rollup(pks)
    traces_rollup(pks[:2])

    assert rollup_state(project) == first
    all_row = Rollup.objects.get(project=project, dim="all")
    assert all_row.traces == 4 and all_row.hour == NOW - timedelta(hours=1)
    assert metric_value("score:faithfulness", all_row.data) == (pytest.approx(0.515), 4)
    assert metric_value("tool_failure_rate", all_row.data) == (0.5, 4)  # two of the four tool calls failed
    assert metric_value("ttft_ms", all_row.data)[0] == pytest.approx(250.0)
    assert metric_value("tpot_ms", all_row.data)[0] == pytest.approx((1500 - 250) / 50)
    by_release = {r.value: r.traces for r in Rollup.objects.filter(project=project, dim="release")}
    assert by_release == {"1.9.0": 2, "2.0.0": 2}
    dims = {"all", "release", "model", "environment", "intent"}
    assert set(Rollup.objects.filter(project=project).values_list("dim", flat=True)) == dims | {f"d:{d}" for d in dims}
    day = Rollup.objects.get(project=project, dim="d:all")  # the same traces in their UTC day's row
    assert (day.hour, day.traces, day.data) == (all_row.hour.replace(hour=0), 4, all_row.data)
    assert TraceContribution.objects.filter(project=project).count() == 4
    assert sorted(UserCost.objects.filter(project=project).values_list("user_id", "traces")) == sorted(
        [(user_token(project, "user-0"), 2), (user_token(project, "user-1"), 2)]  # stored hashed
    )


@pytest.mark.django_db
def test_the_stage_reads_a_batch_in_a_fixed_number_of_queries(project, django_assert_max_num_queries):
    small, large = _batch(project, 2), _batch(project, 12)
    traces_rollup(small[:1])  # the releases' deploys exist: the large batch pays no deploy look-up either

    # one query more on PostgreSQL: the advisory locks on the batch's traces
    with django_assert_max_num_queries(15) as small_run:
        traces_rollup(small)
    with django_assert_max_num_queries(15) as large_run:
        traces_rollup(large)
    assert len(large_run.captured_queries) <= len(small_run.captured_queries)
