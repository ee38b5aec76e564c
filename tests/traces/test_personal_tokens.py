"""Personal API tokens act as their user, with the user's role in the project; the review API records the token's
user, refuses a `reviewer` naming someone else, and keys and tokens record their last use at most once a minute."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotations import services
from annotations.models import Annotation, GoldenSet
from tests.annotations.helpers import make_queue
from tests.base import make_key, make_project, make_token, make_trace, make_user
from traces.models import ApiKey, AuditEvent, Membership, PersonalToken, Role, Trace


def post(client, path, token, body=None, **headers):
    return client.post(f"/api/v1{path}", json.dumps(body or {}), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {token}", **headers)  # fmt: skip


@pytest.fixture
def rita(project):
    user = make_user("rita")
    Membership.objects.create(project=project, user=user, role=Role.REVIEWER)
    return user


@pytest.fixture
def queued(project):
    queue = make_queue(project)
    make_trace(project, n_llm=1)
    services.queue_items_add(queue=queue, trace_pks=list(Trace.objects.values_list("pk", flat=True)))
    return queue


@pytest.mark.django_db
def test_review_through_a_token_is_recorded_as_its_user(client, project, rita, queued):
    token = make_token(rita)
    claim = post(client, f"/queues/{queued.pk}/claim", token)
    assert claim.status_code == 200 and claim.json()["claimed_by"] == "rita"
    item = claim.json()["id"]
    assert post(client, f"/queue-items/{item}/annotations", token, {"labels": ["hallucination"]}).status_code == 201
    assert Annotation.objects.get(item_id=item).reviewer == rita
    claimed = AuditEvent.objects.get(action="review.claim")
    assert (claimed.actor_user, claimed.actor_label, claimed.target) == (rita, "rita (token laptop)", f"item {item}")


@pytest.mark.django_db
def test_a_reviewer_field_naming_someone_else_is_refused(client, project, rita, queued, owner):
    token = make_token(rita)
    refused = post(client, f"/queues/{queued.pk}/claim", token, {"reviewer": "owner"})
    assert refused.status_code == 403 and "not this token's user" in refused.json()["detail"]
    assert not queued.items.filter(claimed_by__isnull=False).exists()
    assert post(client, f"/queues/{queued.pk}/claim", token, {"reviewer": "rita"}).status_code == 200


@pytest.mark.django_db
def test_a_promotion_records_who_made_it(client, project, owner, queued):
    golden = GoldenSet.objects.create(project=project, name="g")
    trace = Trace.objects.get()
    resp = post(client, f"/golden-sets/{golden.pk}/promote", make_token(owner), {"trace_ids": [trace.trace_id]})
    assert resp.status_code == 201
    version = golden.versions.get()
    assert (version.created_by, version.created_by_label) == (owner, "owner (token laptop)")
    assert AuditEvent.objects.filter(action="golden_set.promote", actor_user=owner).count() == 1


@pytest.mark.django_db
def test_a_token_has_its_users_role_in_the_project_it_names(client, project, owner):
    make_project("second", owner=owner)  # in two projects: the token says which
    token = make_token(owner)
    assert client.get("/api/v1/traces", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 400
    ok = client.get("/api/v1/traces", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_PEEKR_PROJECT=str(project.pk))
    assert ok.status_code == 200
    Membership.objects.filter(user=owner, project=project).update(role=Role.REVIEWER)
    refused = client.get("/api/v1/traces", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_PEEKR_PROJECT=str(project.pk))
    assert refused.status_code == 403


@pytest.mark.django_db
def test_a_revoked_token_is_refused(client, project, owner):
    client.force_login(owner)
    client.post(reverse("traces:tokens"), {"name": "ci"})
    raw = client.get(reverse("traces:tokens")).context["secret"]
    assert raw.startswith("pt_")
    assert client.get("/api/v1/traces", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    token = PersonalToken.objects.get(user=owner)
    assert token.last_used_at is not None and token.token_hash != raw  # only its hash is kept
    client.post(reverse("traces:token_revoke", args=[token.pk]))
    assert client.get("/api/v1/traces", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert client.get(reverse("traces:tokens")).context["secret"] == ""  # shown once


@pytest.mark.django_db
def test_a_keys_last_use_is_written_at_most_once_a_minute(client, project, django_assert_num_queries):
    raw = make_key(project, scope="read")
    key = ApiKey.objects.get(key_hash=ApiKey.hash(raw))
    assert key.last_used_at is None
    client.get("/api/v1/traces", HTTP_AUTHORIZATION=f"Bearer {raw}")
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    with django_assert_num_queries(2):  # the key, the page: no write within the minute
        client.get("/api/v1/traces", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    client.get("/api/v1/traces", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first


@pytest.mark.django_db
def test_an_ingest_key_sends_but_cannot_read_and_a_read_key_cannot_send(client, project):
    ingest, read = make_key(project, scope="ingest"), make_key(project, scope="read")
    assert client.get("/api/v1/traces", HTTP_AUTHORIZATION=f"Bearer {ingest}").status_code == 403
    body = json.dumps({"resourceSpans": []})
    sent = client.post("/v1/traces", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {ingest}")
    assert sent.status_code == 200
    refused = client.post("/v1/traces", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {read}")
    assert refused.status_code == 401
