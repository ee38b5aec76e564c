"""GET /api/v1/signals (filters, pages, counts per kind) and GET/PUT /api/v1/routing-policy."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from signals.models import Signal
from tests.base import make_turn


def get(client, key, path, **params):
    return client.get(path, params, HTTP_AUTHORIZATION=f"Bearer {key}")


def add(trace, kind, key, *, minutes_ago=0, value=None):
    return Signal.objects.create(project=trace.project, trace=trace, kind=kind, source="api", key=key, value=value,
                                 session_id=trace.session_id, user_id=trace.user_id,
                                 created_at=timezone.now() - timedelta(minutes=minutes_ago))  # fmt: skip


@pytest.fixture
def stored(project):
    a = make_turn(project, session="s1", user="alice", text="one", start=time.time() - 300)
    b = make_turn(project, session="s2", user="bob", text="two", start=time.time() - 200)
    add(a, "thumbs_down", "k1", minutes_ago=120)
    add(a, "rephrase", "k2", minutes_ago=60, value=0.9)
    add(b, "thumbs_down", "k3", minutes_ago=5)
    add(b, "task_completed", "k4", minutes_ago=1)
    return a, b


@pytest.mark.django_db
def test_signals_are_listed_newest_first_with_counts_per_kind(client, api_key, stored, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # the key, the page, the counts (+ a session-less auth read)
        data = get(client, api_key, "/api/v1/signals").json()
    assert [s["kind"] for s in data["items"]] == ["task_completed", "thumbs_down", "rephrase", "thumbs_down"]
    assert data["count"] == 4 and data["counts"]["thumbs_down"] == 2 and data["counts"]["abandonment"] == 0
    assert data["items"][2]["value"] == 0.9 and data["items"][0]["trace_id"] == stored[1].trace_id


@pytest.mark.django_db
def test_every_filter_narrows_the_list(client, api_key, stored):
    a, b = stored
    kinds = lambda **p: [s["kind"] for s in get(client, api_key, "/api/v1/signals", **p).json()["items"]]  # noqa: E731
    assert kinds(kind="thumbs_down") == ["thumbs_down", "thumbs_down"]
    assert kinds(trace_id=a.trace_id) == ["rephrase", "thumbs_down"]
    assert kinds(session_id="s2") == ["task_completed", "thumbs_down"]
    assert kinds(user_id="alice", kind="rephrase") == ["rephrase"]
    since = (timezone.now() - timedelta(minutes=30)).isoformat()
    until = (timezone.now() - timedelta(minutes=3)).isoformat()
    assert kinds(since=since) == ["task_completed", "thumbs_down"]
    assert kinds(since=since, until=until) == ["thumbs_down"]
    assert kinds(limit=2, offset=1) == ["thumbs_down", "rephrase"]
    data = get(client, api_key, "/api/v1/signals", kind="thumbs_down", session_id="s1").json()
    assert data["count"] == 1 and data["counts"]["rephrase"] == 1
    assert get(client, api_key, "/api/v1/signals", kind="nope").status_code == 422
    assert get(client, api_key, "/api/v1/signals", limit=0).status_code == 422


@pytest.mark.django_db
def test_another_projects_key_sees_none_of_them(client, stored, other_project_and_key):
    _, other_key = other_project_and_key
    data = get(client, other_key, "/api/v1/signals", trace_id=stored[0].trace_id).json()
    assert data["count"] == 0 and data["items"] == []


@pytest.mark.django_db
def test_the_routing_policy_has_the_defaults_and_can_be_changed(client, api_key):
    data = get(client, api_key, "/api/v1/routing-policy").json()
    assert data["actions"]["thumbs_down"] == ["judge", "review", "golden"]
    assert data["actions"]["rephrase"] == ["judge"] and data["actions"]["abandonment"] == ["review"]
    assert data["actions"]["escalation"] == ["judge", "review"] and data["actions"]["thumbs_up"] == ["baseline"]
    assert data["rephrase_window_seconds"] == 600 and data["abandonment_quiet_seconds"] == 1800

    put = lambda body: client.put("/api/v1/routing-policy", data=body, content_type="application/json",  # noqa: E731
                                  HTTP_AUTHORIZATION=f"Bearer {api_key}")  # fmt: skip
    resp = put({"actions": {"rephrase": ["review", "judge"]}, "rephrase_threshold": 90})
    assert resp.status_code == 200
    again = get(client, api_key, "/api/v1/routing-policy").json()
    assert again["actions"]["rephrase"] == ["judge", "review"] and again["rephrase_threshold"] == 90
    assert again["actions"]["thumbs_down"] == ["judge", "review", "golden"]  # untouched

    bad = put({"abandonment_quiet_seconds": 5})
    assert bad.status_code == 400 and "abandonment_quiet_seconds must be between" in bad.json()["detail"]
    assert put({"actions": {"rephrase": ["page"]}}).status_code == 422
    assert put({"actions": {"vibes": ["judge"]}}).status_code == 422
