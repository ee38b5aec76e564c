"""GET/PUT /api/v1/projects/{id}/privacy: the key's own project only, bad settings 400, every change audited."""

import pytest

from tests.base import make_key, make_raw_span
from traces.models import AuditEvent, Span
from traces.services import spans_ingest


def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/privacy"


def put(client, project, key, body):
    return client.put(url(project), body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.mark.django_db
def test_a_new_project_starts_with_the_safe_defaults(client, project):
    resp = client.get(url(project), HTTP_AUTHORIZATION=f"Bearer {make_key(project, 'read')}")
    assert resp.status_code == 200
    data = resp.json()
    assert data["actions"] == {
        "email": "mask", "credit_card": "mask", "ssn": "mask", "phone": "keep", "iban": "keep", "ip": "keep",
    }  # fmt: skip
    assert data["hash_user_id"] is True and data["hash_session_id"] is False
    assert data["custom_patterns"] == [] and data["drop_keys"] == []
    assert "secret" not in data


@pytest.mark.django_db
def test_an_admin_key_changes_the_settings_and_the_change_is_audited_and_applied(client, project):
    admin = make_key(project, "admin", name="ops")
    body = {
        "actions": {"email": "tokenise", "phone": "mask", "ip": "mask"},
        "custom_patterns": [{"name": "order_id", "pattern": "ORD-[0-9]{8}", "action": "mask"}],
        "drop_keys": ["http.request.header.authorization"],
        "hash_user_id": False,
        "hash_session_id": True,
    }
    resp = put(client, project, admin, body)
    assert resp.status_code == 200, resp.content
    assert resp.json()["actions"]["email"] == "tokenise" and resp.json()["actions"]["credit_card"] == "mask"

    event = AuditEvent.objects.get(project=project, action="privacy.update")
    assert event.actor_key is not None and event.actor_key.name == "ops"
    assert event.details["hash_user_id"] == {"from": True, "to": False}

    span = make_raw_span(attributes={"note": "order ORD-12345678 from 10.1.2.3", "session.id": "s-1", "user.id": "u-1",
                                     "http.request.header.authorization": "Bearer x"})  # fmt: skip
    spans_ingest(project=project, raws=[span])
    stored = Span.objects.get(span_id=span.span_id)
    assert stored.attributes["note"] == "order [ORDER_ID] from [IP]"
    assert "http.request.header.authorization" not in stored.attributes
    assert stored.user_id == "u-1" and stored.session_id.startswith("s_")
    assert stored.redactions == {"order_id": 1, "ip": 1, "dropped_key": 1}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"custom_patterns": [{"name": "evil", "pattern": "(a+)+$"}]}, "exponential"),
        ({"custom_patterns": [{"name": "bad", "pattern": "[oops"}]}, "does not compile"),
        ({"custom_patterns": [{"name": "empty", "pattern": "x*"}]}, "empty string"),
        ({"custom_patterns": [{"name": "Bad Name", "pattern": "x"}]}, "name"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(client, project, body, reason):
    resp = put(client, project, make_key(project, "admin"), body)
    assert resp.status_code == 400
    assert reason in resp.json()["detail"]
    assert not AuditEvent.objects.filter(project=project, action="privacy.update").exists()


@pytest.mark.django_db
def test_an_unknown_action_is_refused(client, project):
    resp = put(client, project, make_key(project, "admin"), {"actions": {"email": "shred"}})
    assert resp.status_code == 422


@pytest.mark.django_db
def test_another_projects_settings_are_not_found(client, project, other_project_and_key):
    other, _ = other_project_and_key
    admin = make_key(project, "admin")
    assert client.get(url(other), HTTP_AUTHORIZATION=f"Bearer {admin}").status_code == 404
    assert put(client, other, admin, {"hash_user_id": False}).status_code == 404


@pytest.mark.django_db
def test_ingest_and_read_keys_cannot_change_them(client, project):
    assert put(client, project, make_key(project, "ingest"), {"hash_user_id": False}).status_code == 403
    assert put(client, project, make_key(project, "read"), {"hash_user_id": False}).status_code == 403
