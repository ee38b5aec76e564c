"""The audit log: opening raw content (trace page, span panel, GET trace) writes one row per view, whoever opens
it; owners and admins read it on a page and through GET /api/v1/audit (filters, pages)."""

import pytest
from django.urls import reverse

from annotations import services
from tests.annotations.helpers import make_queue
from tests.base import make_key, make_token, make_trace, make_user
from traces.audit import audit_record
from traces.models import AuditEvent, Membership, Role


@pytest.mark.django_db
def test_viewing_a_trace_or_a_span_writes_one_row(owner_client, owner, project):
    trace_id, spans = make_trace(project, n_llm=3)
    owner_client.get(reverse("traces:trace_detail", args=[project.pk, trace_id]))
    assert list(AuditEvent.objects.values_list("action", "target", "actor_user")) == [
        ("trace.view", trace_id, owner.pk)
    ]
    owner_client.get(reverse("traces:span_detail", args=[project.pk, trace_id, spans[1].span_id]),
                     headers={"HX-Request": "true"})  # fmt: skip
    assert AuditEvent.objects.filter(action="span.view", details__span=spans[1].span_id).count() == 1


@pytest.mark.django_db
def test_reading_a_trace_through_the_api_is_audited_with_the_key(client, project):
    trace_id, _ = make_trace(project, n_llm=1)
    raw = make_key(project, scope="read", name="exporter")
    client.get(f"/api/v1/traces/{trace_id}", HTTP_AUTHORIZATION=f"Bearer {raw}")
    row = AuditEvent.objects.get()
    assert (
        row.action == "trace.view" and row.actor_key.name == "exporter" and row.actor_label.startswith("key exporter")
    )


@pytest.mark.django_db
def test_a_reviewer_opening_a_queued_trace_is_audited(client, project):
    rita = make_user("rita")
    Membership.objects.create(project=project, user=rita, role=Role.REVIEWER)
    trace_id, _ = make_trace(project, n_llm=1)
    services.queue_items_add(queue=make_queue(project), trace_pks=[project.traces.get().pk])
    client.force_login(rita)
    assert client.get(reverse("traces:trace_detail", args=[project.pk, trace_id])).status_code == 200
    assert AuditEvent.objects.filter(action="trace.view", actor_user=rita).count() == 1


@pytest.mark.django_db
def test_the_audit_api_filters_and_pages(client, project, owner):
    for i in range(5):
        audit_record(project=project, actor_user=owner, action="member.role", target=f"u{i}")
    audit_record(project=project, action="retention.update")
    token = make_token(owner)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    page = client.get("/api/v1/audit?action=member.&limit=3", **auth).json()
    assert [e["target"] for e in page["items"]] == ["u4", "u3", "u2"] and page["items"][0]["actor_user"] == "owner"
    rest = client.get(f"/api/v1/audit?action=member.&limit=3&before={page['next_before']}", **auth).json()
    assert [e["target"] for e in rest["items"]] == ["u1", "u0"] and rest["next_before"] is None
    assert client.get("/api/v1/audit", HTTP_AUTHORIZATION=f"Bearer {make_key(project, 'read')}").status_code == 403


@pytest.mark.django_db
def test_the_audit_page_is_for_owners_and_admins(client, project, owner, django_assert_max_num_queries):
    for i in range(60):
        audit_record(project=project, actor_user=owner, action="trace.view", target=f"t{i}")
    client.force_login(owner)
    with django_assert_max_num_queries(6):
        response = client.get(reverse("traces:audit", args=[project.pk]))
    assert len(response.context["events"]) == 50 and response.context["next_before"]
    engineer = make_user("eng")
    Membership.objects.create(project=project, user=engineer, role=Role.ENGINEER)
    client.force_login(engineer)
    assert client.get(reverse("traces:audit", args=[project.pk])).status_code == 404


@pytest.mark.django_db
def test_changing_rules_and_monitors_is_audited(client, project, owner):
    import json

    auth = {"HTTP_AUTHORIZATION": f"Bearer {make_token(owner)}"}
    rule = client.post("/api/v1/eval-rules", json.dumps({"name": "valid json", "evaluators": ["json_valid"]}),
                       content_type="application/json", **auth)  # fmt: skip
    assert rule.status_code == 201
    client.delete(f"/api/v1/eval-rules/{rule.json()['id']}", **auth)
    monitor = client.post("/api/v1/monitors", json.dumps({"name": "cost", "metric": "cost_per_trace"}),
                          content_type="application/json", **auth)  # fmt: skip
    assert monitor.status_code == 201
    client.delete(f"/api/v1/monitors/{monitor.json()['id']}", **auth)
    rows = list(AuditEvent.objects.filter(actor_user=owner).order_by("id").values_list("action", "target"))
    assert rows == [("rule.create", "valid json"), ("rule.delete", "valid json"), ("monitor.create", "cost"),
                    ("monitor.delete", "cost")]  # fmt: skip
