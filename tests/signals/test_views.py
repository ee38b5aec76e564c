"""The signals blocks of the trace and session pages, the trace list filter, the Insights tab's abandonment by
intent and the routing policy's table."""

import time

import pytest

from signals.models import RoutingPolicy, Signal
from signals.selectors import MIN_SESSIONS
from tests.base import make_turn


def add(trace, kind, key):
    return Signal.objects.create(project=trace.project, trace=trace, kind=kind, source="derived", key=key,
                                 session_id=trace.session_id, evidence={"similarity": 91.0, "gap_seconds": 42.0})  # fmt: skip


@pytest.mark.django_db
def test_the_trace_and_session_pages_load_their_signals(owner_client, project):
    t = make_turn(project, session="sess-1", text="hi", start=time.time() - 100)
    add(t, "rephrase", "k1")
    page = owner_client.get(f"/p/{project.pk}/traces/{t.trace_id}").content.decode()
    assert f"/p/{project.pk}/traces/{t.trace_id}/signals" in page
    part = owner_client.get(f"/p/{project.pk}/traces/{t.trace_id}/signals", HTTP_HX_REQUEST="true").content.decode()
    assert "Rephrase" in part and "similarity 91.0" in part and "<html" not in part
    session_page = owner_client.get(f"/p/{project.pk}/sessions/sess-1").content.decode()
    assert f"/p/{project.pk}/signals/sessions/sess-1" in session_page
    part = owner_client.get(f"/p/{project.pk}/signals/sessions/sess-1", HTTP_HX_REQUEST="true").content.decode()
    assert "Rephrase" in part and t.trace_id in part


@pytest.mark.django_db
def test_outsiders_get_404(client, outsider, project):
    t = make_turn(project, session="s", text="hi", start=time.time() - 100)
    client.force_login(outsider)
    for url in (f"/p/{project.pk}/traces/{t.trace_id}/signals", f"/p/{project.pk}/signals/sessions/s",
                f"/p/{project.pk}/signals/intents", f"/p/{project.pk}/signals/policy"):  # fmt: skip
        assert client.get(url).status_code == 404
    assert client.post(f"/p/{project.pk}/signals/policy", {}).status_code == 404


@pytest.mark.django_db
def test_the_trace_list_filters_by_signal_kind(owner_client, project):
    a = make_turn(project, session="s", text="first", start=time.time() - 100, name="alpha-turn")
    make_turn(project, session="s", text="second", start=time.time() - 50, name="beta-turn")
    add(a, "abandonment", "k1")
    page = owner_client.get(f"/p/{project.pk}/traces?signal=abandonment").content.decode()
    assert "alpha-turn" in page and "beta-turn" not in page


@pytest.mark.django_db
def test_insights_say_when_abandonment_follows_one_intent(owner_client, project):
    start = time.time() - 3600
    for i in range(MIN_SESSIONS):
        bad = make_turn(project, session=f"r{i}", text="refund?", start=start + i, name="refund_request")
        if i % 3 == 0:  # 7 of 20: 35 %
            add(bad, "abandonment", f"r{i}")
        ok = make_turn(project, session=f"o{i}", text="hours?", start=start + i, name="opening_hours")
        if i == 0:  # 1 of 20: 5 %
            add(ok, "abandonment", f"o{i}")
    assert "/signals/intents" in owner_client.get(f"/p/{project.pk}/insights").content.decode()
    part = owner_client.get(f"/p/{project.pk}/signals/intents", HTTP_HX_REQUEST="true").content.decode()
    assert "abandonment after intent refund_request: 35 % of sessions vs 5 % for others" in part
    assert "opening_hours" not in part


@pytest.mark.django_db
def test_the_policy_table_saves_and_refuses_a_bad_window(owner_client, project):
    url = f"/p/{project.pk}/signals/policy"
    assert (
        'name="thumbs_down:golden" value="1" aria-label="Thumbs down: golden" checked'
        in owner_client.get(url).content.decode()
    )
    resp = owner_client.post(url, {"rephrase:review": "1", "rephrase_window_seconds": "300"})
    assert resp.status_code == 302
    policy = RoutingPolicy.objects.get(project=project)
    assert policy.actions["rephrase"] == ["review"] and policy.actions["thumbs_down"] == []
    assert policy.rephrase_window_seconds == 300
    resp = owner_client.post(url, {"abandonment_quiet_seconds": "1"})
    assert resp.status_code == 200 and "abandonment_quiet_seconds must be between" in resp.content.decode()
