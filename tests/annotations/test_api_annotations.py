"""The review API. The key is project-level (it acts for the project); reviewing calls act as a person, through
their personal token. Another project's key gets 404 for everything of this project."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotations import services
from annotations.models import Annotation, GoldenItem, QueueItem, RegressionResult, RegressionRun
from evals.evaluators.types import EvalResult
from evals.services import score_record
from tests.annotations.helpers import agent_trace, make_queue
from tests.base import make_token, make_trace, make_user
from traces.models import Membership, Role, Trace


class Api:
    def __init__(self, client, key):
        self.client, self.headers = client, {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def get(self, path, **params):
        return self.client.get(f"/api/v1{path}", params, **self.headers)

    def post(self, path, body=None):
        return self.client.post(f"/api/v1{path}", json.dumps(body or {}), content_type="application/json",
                                **self.headers)  # fmt: skip

    def put(self, path, body):
        return self.client.put(f"/api/v1{path}", json.dumps(body), content_type="application/json", **self.headers)

    def delete(self, path):
        return self.client.delete(f"/api/v1{path}", **self.headers)


@pytest.fixture
def api(client, api_key):
    return Api(client, api_key)


@pytest.fixture
def outsider_api(client, other_project_and_key):
    return Api(client, other_project_and_key[1])


@pytest.fixture
def reviewer(project):
    user = make_user("rita")
    Membership.objects.create(project=project, user=user, role=Role.REVIEWER)
    return user


@pytest.fixture
def rita_api(client, reviewer):
    return Api(client, make_token(reviewer))


@pytest.fixture
def queue(project):
    return make_queue(project, score_configs=[{"name": "correct", "type": "boolean"}])


def traces(project, n):
    for _ in range(n):
        make_trace(project, n_llm=1)
    return list(Trace.objects.filter(project=project).order_by("pk"))


@pytest.mark.django_db
def test_queues_are_created_and_listed_with_progress(api, outsider_api, project):
    resp = api.post("/queues", {"name": "Low faithfulness", "score_configs": [{"name": "ok", "type": "boolean"}]})
    assert resp.status_code == 201
    queue_id = resp.json()["id"]
    assert api.post("/queues", {"name": "Low faithfulness"}).status_code == 400
    bad = api.post("/queues", {"name": "x", "score_configs": [{"name": "t", "type": "categorical"}]})
    assert bad.status_code == 400 and "needs options" in bad.json()["detail"]
    services.queue_items_add(queue=project.queues.get(), trace_pks=[t.pk for t in traces(project, 2)])
    listed = api.get("/queues").json()
    assert [(q["name"], q["total"], q["pending"]) for q in listed] == [("Low faithfulness", 2, 2)]
    assert api.get(f"/queues/{queue_id}").json()["reviewers"] == []
    assert outsider_api.get("/queues").json() == []
    assert outsider_api.get(f"/queues/{queue_id}").status_code == 404


@pytest.mark.django_db
def test_items_are_added_in_bulk_and_listed_without_n_plus_1(api, outsider_api, project, queue):
    ids = [t.trace_id for t in traces(project, 3)]
    resp = api.post(f"/queues/{queue.pk}/items", {"trace_ids": ids + ["f" * 32]})
    assert resp.status_code == 201 and resp.json()["added"] == 3
    assert api.post(f"/queues/{queue.pk}/items", {"trace_ids": ids}).json()["added"] == 0
    with CaptureQueriesContext(connection) as few:
        assert len(api.get(f"/queues/{queue.pk}/items").json()) == 3
    services.queue_items_add(queue=queue, trace_pks=[t.pk for t in traces(project, 3)])
    with CaptureQueriesContext(connection) as more:
        assert len(api.get(f"/queues/{queue.pk}/items").json()) == 6
    assert len(more) == len(few)
    assert outsider_api.post(f"/queues/{queue.pk}/items", {"trace_ids": ids}).status_code == 404
    assert outsider_api.get(f"/queues/{queue.pk}/items").status_code == 404


@pytest.mark.django_db
def test_routing_rules(api, outsider_api, queue):
    resp = api.post(f"/queues/{queue.pk}/routing-rules", {"kind": "score_below",
                                                         "params": {"evaluator": "faithfulness", "threshold": 0.5}})  # fmt: skip
    assert resp.status_code == 201
    assert api.post(f"/queues/{queue.pk}/routing-rules", {"kind": "sample", "params": {}}).status_code == 400
    assert [r["kind"] for r in api.get(f"/queues/{queue.pk}/routing-rules").json()] == ["score_below"]
    assert outsider_api.get(f"/queues/{queue.pk}/routing-rules").status_code == 404


@pytest.mark.django_db
def test_a_reviewer_claims_annotates_releases_and_skips(api, rita_api, client, outsider, project, queue, reviewer):
    services.queue_items_add(queue=queue, trace_pks=[t.pk for t in traces(project, 3)])
    claim = rita_api.post(f"/queues/{queue.pk}/claim")
    assert claim.status_code == 200 and claim.json()["claimed_by"] == "rita"
    item_id = claim.json()["id"]
    bad = rita_api.post(f"/queue-items/{item_id}/annotations", {"labels": ["nope"]})
    assert bad.status_code == 400 and "unknown label" in bad.json()["detail"]
    resp = rita_api.post(f"/queue-items/{item_id}/annotations", {"reviewer": "rita", "labels": ["hallucination"],
                         "values": {"correct": False}, "comment": "invented", "expected_output": "Paris"})  # fmt: skip
    assert resp.status_code == 201
    assert (resp.json()["item_status"], resp.json()["reviews_done"]) == ("completed", 1)
    a = Annotation.objects.get(item_id=item_id)
    assert (a.reviewer, a.labels, a.values, a.expected_output) == (reviewer, ["hallucination"], {"correct": False},
                                                                    "Paris")  # fmt: skip
    second = rita_api.post(f"/queues/{queue.pk}/claim").json()["id"]
    assert rita_api.post(f"/queue-items/{second}/release").json()["claimed_by"] is None
    assert rita_api.post(f"/queue-items/{second}/skip").json()["status"] == "skipped"
    third = rita_api.post(f"/queues/{queue.pk}/claim").json()["id"]
    services.annotation_submit(item=QueueItem.objects.get(pk=third), reviewer=reviewer)
    assert rita_api.post(f"/queues/{queue.pk}/claim").status_code == 204
    progress = api.get(f"/queues/{queue.pk}").json()
    assert (progress["completed"], progress["skipped"], progress["reviewers"][0]["reviews"]) == (2, 1, 2)
    # Someone of another project, with their own token: the queue, its items and their reviews are not there.
    make_project_for(outsider)
    outsider_api = Api(client, make_token(outsider))
    assert outsider_api.post(f"/queues/{queue.pk}/claim").status_code == 404
    assert outsider_api.post(f"/queue-items/{item_id}/annotations").status_code == 404
    assert outsider_api.post(f"/queue-items/{second}/release").status_code == 404


def make_project_for(user):
    from tests.base import make_project

    return make_project("elsewhere", owner=user)


@pytest.mark.django_db
def test_only_members_who_may_review_can_claim(api, client, project, queue, owner):
    viewer = make_user("vic")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    services.queue_items_add(queue=queue, trace_pks=[t.pk for t in traces(project, 1)])
    assert Api(client, make_token(viewer)).post(f"/queues/{queue.pk}/claim").status_code == 403
    assert api.post(f"/queues/{queue.pk}/claim", {"reviewer": "owner"}).status_code == 403  # a key is no person
    assert Api(client, make_token(owner)).post(f"/queues/{queue.pk}/claim").status_code == 200


@pytest.mark.django_db
def test_taxonomy(api, outsider_api):
    assert "hallucination" in api.get("/taxonomy").json()["labels"]
    assert api.put("/taxonomy", {"labels": ["late", "rude"]}).json() == {"labels": ["late", "rude"]}
    assert api.get("/taxonomy").json() == {"labels": ["late", "rude"]}
    assert "late" not in outsider_api.get("/taxonomy").json()["labels"]


@pytest.mark.django_db
def test_golden_sets_versions_promotion_and_removal(api, outsider_api, project, queue, owner):
    resp = api.post("/golden-sets", {"name": "support"})
    assert resp.status_code == 201 and resp.json()["latest_version"] is None
    set_id = resp.json()["id"]
    trace = agent_trace(project)
    (item,) = services.queue_items_add(queue=queue, trace_pks=[trace.pk])
    services.annotation_submit(item=item, reviewer=owner, labels=["PII leak"])
    other = agent_trace(project, question="Cancel my plan", answer="No.")
    promoted = api.post(f"/golden-sets/{set_id}/promote", {"item_ids": [item.pk], "trace_ids": [other.trace_id]})
    assert promoted.status_code == 201 and promoted.json()["version"]["items_count"] == 2
    assert api.post(f"/golden-sets/{set_id}/promote", {"item_ids": [item.pk]}).json() == {"version": None}
    assert api.post(f"/golden-sets/{set_id}/promote", {"trace_ids": ["0" * 32]}).status_code == 404
    version = api.get(f"/golden-sets/{set_id}/versions/1").json()
    case = next(c for c in version["items"] if c["source_trace_id"] == trace.trace_id)
    assert case["graders"] == [{"type": "pii"}] and case["labels"] == ["PII leak"]
    assert api.delete(f"/golden-sets/{set_id}/cases/{case['case_id']}").status_code == 201
    assert [v["number"] for v in api.get(f"/golden-sets/{set_id}/versions").json()] == [2, 1]
    assert api.get(f"/golden-sets/{set_id}/versions/1").json()["items_count"] == 2
    listed = api.get("/golden-sets").json()
    assert [(s["name"], s["latest_version"], s["items"], s["added_last_quarter"]) for s in listed] == [
        ("support", 2, 1, 1)
    ]
    export = api.get(f"/golden-sets/{set_id}/versions/1/export", format="jsonl")
    assert export.status_code == 200 and len(export.content.decode().splitlines()) == 2
    assert api.get(f"/golden-sets/{set_id}/versions/1/export", format="pytest").content.startswith(b'"""Golden set')
    for path in (f"/golden-sets/{set_id}/versions", f"/golden-sets/{set_id}/versions/1",
                 f"/golden-sets/{set_id}/versions/1/export"):  # fmt: skip
        assert outsider_api.get(path).status_code == 404
    assert outsider_api.post(f"/golden-sets/{set_id}/promote", {"trace_ids": [other.trace_id]}).status_code == 404
    assert outsider_api.get("/golden-sets").json() == []
    assert GoldenItem.objects.filter(version__number=1).count() == 2


@pytest.mark.django_db
def test_regression_runs_are_listed_and_shown(api, outsider_api, project):
    golden_set = services.golden_set_create(project=project, name="support")
    version = services.golden_items_import(golden_set=golden_set, cases=[{"case_id": "c1"}])
    run = RegressionRun.objects.create(version=version, target="http://x/v1", model="m", status="failed",
                                       summary={"total": 1, "failed": 1})  # fmt: skip
    RegressionResult.objects.create(run=run, item=version.items.get(), output="bad", passed=False,
                                    grader_results=[{"grader": "pii", "passed": False}])  # fmt: skip
    assert [r["id"] for r in api.get("/regression-runs").json()] == [run.pk]
    assert [r["id"] for r in api.get("/regression-runs", golden_set_id=golden_set.pk).json()] == [run.pk]
    detail = api.get(f"/regression-runs/{run.pk}").json()
    assert (detail["golden_set"], detail["version"], detail["results"][0]["case_id"]) == ("support", 1, "c1")
    assert outsider_api.get(f"/regression-runs/{run.pk}").status_code == 404
    assert outsider_api.get("/regression-runs").json() == []


@pytest.mark.django_db
def test_calibration_and_triage(api, outsider_api, project, queue, owner):
    (trace,) = traces(project, 1)
    score_record(trace=trace, span=None, evaluator="pii", result=EvalResult(value=0.0, passed=False))
    (item,) = services.queue_items_add(queue=queue, trace_pks=[trace.pk])
    services.annotation_submit(item=item, reviewer=owner, labels=["PII leak"])
    rows = {r["evaluator"]: r for r in api.get("/calibration").json()}
    assert (rows["pii"]["n"], rows["pii"]["agreement"], rows["pii"]["confusion"]) == (1, 1.0, [[1, 0], [0, 0]])
    assert rows["pii"]["gate_eligible"] is False and "49 more" in rows["pii"]["status"]
    triage = api.get("/triage").json()
    assert [(t["trace_id"], t["mean_score"], t["queue_ids"]) for t in triage["traces"]] == [
        (trace.trace_id, 0.0, [queue.pk])
    ]
    assert triage["queues"] == [{"id": queue.pk, "name": queue.name}]
    assert outsider_api.get("/triage").json()["traces"] == []
    assert {r["n"] for r in outsider_api.get("/calibration").json()} == {0}


@pytest.mark.django_db
def test_without_a_key_everything_is_401(client):
    assert client.get("/api/v1/queues").status_code == 401
