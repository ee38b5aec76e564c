"""Regression runs /p/<id>/golden-sets/<set>/runs: two runs side by side, pass/fail per case."""

import pytest
from django.urls import reverse

from annotations import services
from annotations.models import RegressionResult, RegressionRun
from tests.annotations.helpers import agent_trace
from tests.base import make_project


@pytest.fixture
def runs(project):
    golden = services.golden_set_create(project=project, name="g")
    traces = [agent_trace(project, question=f"Question number {i} about plan {i * 7}?") for i in range(3)]
    version = services.golden_items_promote(golden_set=golden, items_or_traces=traces, group=False)
    items = list(version.items.order_by("pk"))

    def run(name, passed):
        r = RegressionRun.objects.create(version=version, name=name, target="http://candidate/v1", model=name,
                                         status="failed" if False in passed else "passed",
                                         summary={"total": 3, "passed": sum(passed)})  # fmt: skip
        for item, ok in zip(items, passed, strict=True):
            RegressionResult.objects.create(run=r, item=item, passed=ok)
        return r

    return golden, items, run("model-a", [True, True, False]), run("model-b", [True, False, True])


def test_the_latest_two_runs_are_compared_by_default(owner_client, project, runs):
    golden, items, a, b = runs
    html = owner_client.get(reverse("annotations:golden_runs", args=[project.pk, golden.pk])).content.decode()
    assert f"#{a.pk} vs #{b.pk}: 1 regressed, 1 fixed" in html
    assert html.count('<tr class="changed"') == 2
    row = html.split(f'data-case="{items[1].case_id}"')[1].split("</tr>")[0]
    assert row.index('badge ok">pass') < row.index('badge err">fail') and "regressed" in row


def test_any_two_runs_can_be_picked(owner_client, project, runs):
    golden, items, a, b = runs
    url = reverse("annotations:golden_runs", args=[project.pk, golden.pk])
    html = owner_client.get(url, {"a": b.pk, "b": a.pk}).content.decode()
    assert f"#{b.pk} vs #{a.pk}: 1 regressed, 1 fixed" in html


def test_no_runs_says_how_to_make_one(owner_client, project):
    golden = services.golden_set_create(project=project, name="empty")
    html = owner_client.get(reverse("annotations:golden_runs", args=[project.pk, golden.pk])).content.decode()
    assert "No runs yet" in html and "peekr_regress" in html


def test_outsider_gets_404(client, project, runs, outsider):
    make_project("elsewhere", owner=outsider)
    client.force_login(outsider)
    assert client.get(reverse("annotations:golden_runs", args=[project.pk, runs[0].pk])).status_code == 404
