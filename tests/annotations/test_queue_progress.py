import pytest

from annotations import selectors, services
from annotations.models import RegressionResult, RegressionRun
from tests.annotations.helpers import make_queue
from tests.base import make_trace, make_user
from traces.models import Membership, Role, Trace


@pytest.mark.django_db
def test_progress_per_queue_and_per_reviewer(project, owner):
    rita = make_user("rita")
    Membership.objects.create(project=project, user=rita, role=Role.REVIEWER)
    queue = make_queue(project)
    for _ in range(4):
        make_trace(project, n_llm=1)
    services.queue_items_add(queue=queue, trace_pks=Trace.objects.values_list("pk", flat=True))
    for user in (owner, rita, rita):
        item = services.queue_item_claim(queue=queue, user=user)
        services.annotation_submit(item=item, reviewer=user)
    services.queue_item_claim(queue=queue, user=owner)
    progress = selectors.queue_progress(queue=queue)
    assert {k: progress[k] for k in ("total", "pending", "claimed", "completed", "skipped")} == {
        "total": 4, "pending": 1, "claimed": 1, "completed": 3, "skipped": 0,
    }  # fmt: skip
    assert progress["done_share"] == 0.75
    assert [(r["username"], r["reviews"]) for r in progress["reviewers"]] == [("rita", 2), ("owner", 1)]


@pytest.mark.django_db
def test_two_runs_compare_case_by_case(project):
    golden_set = services.golden_set_create(project=project, name="gs")
    version = services.golden_items_import(golden_set=golden_set, cases=[{"case_id": "a"}, {"case_id": "b"}])
    items = {i.case_id: i for i in version.items.all()}
    runs = []
    for passed in ({"a": True, "b": True}, {"a": False, "b": True}):
        run = RegressionRun.objects.create(version=version, target="t")
        for case_id, ok in passed.items():
            RegressionResult.objects.create(run=run, item=items[case_id], passed=ok)
        runs.append(run)
    rows = selectors.run_compare(base=runs[0], head=runs[1])
    assert [(r["case_id"], r["changed"], r["regressed"]) for r in rows] == [("a", True, True), ("b", False, False)]
