"""Sessions: the list /p/<id>/sessions and one session's conversation /p/<id>/sessions/<session_id>."""

import time

import pytest
from django.urls import reverse

from tests.base import llm_attributes, make_trace, user_token
from traces.models import Trace


def session_attrs(session_id, user="carol", prompt="hi"):
    return {
        **llm_attributes(prompt=prompt, answer=f"answer to {prompt}"),
        "session.id": session_id,
        "user.id": user,
        "input.value": prompt,
        "output.value": f"answer to {prompt}",
    }


@pytest.fixture
def sessions(project):
    now = time.time()
    make_trace(project, name="turn 1", start=now - 300, n_llm=1, attributes=session_attrs("s-old", prompt="first"))
    make_trace(project, name="turn 2", start=now - 200, n_llm=1, attributes=session_attrs("s-old", prompt="second"))
    make_trace(
        project,
        name="turn 3",
        start=now - 100,
        n_llm=0,
        attributes=session_attrs("s-new", user="dave"),
        status_code=2,
    )
    make_trace(project, name="no session", start=now - 50, n_llm=0)
    return project


def test_the_list_shows_sessions_most_recent_first_with_totals(owner_client, sessions):
    response = owner_client.get(reverse("traces:session_list", args=[sessions.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("s-new") < html.index("s-old")
    rows = response.context["sessions"]
    assert [(r["session_id"], r["traces"]) for r in rows] == [("s-new", 1), ("s-old", 2)]
    assert reverse("traces:session_detail", args=[sessions.pk, "s-old"]) in html
    assert user_token(sessions, "dave") in html and user_token(sessions, "carol") in html  # hashed at ingest
    assert "no session" not in html


def test_the_list_without_sessions_explains_them(owner_client, project):
    make_trace(project, n_llm=0)
    html = owner_client.get(reverse("traces:session_list", args=[project.pk])).content.decode()
    assert "No sessions yet" in html and "session.id" in html


def test_a_session_shows_its_traces_in_order_as_a_conversation(owner_client, sessions):
    response = owner_client.get(reverse("traces:session_detail", args=[sessions.pk, "s-old"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("turn 1") < html.index("turn 2")
    assert "turn 3" not in html
    assert html.index(">first<") < html.index(">answer to first<") < html.index(">second<")
    for trace in Trace.objects.filter(session_id="s-old"):
        assert reverse("traces:trace_detail", args=[sessions.pk, trace.trace_id]) in html


def test_a_session_id_with_slashes_and_markup(owner_client, project):
    sid = "org/42/<b>chat</b>"
    make_trace(project, n_llm=0, attributes={"session.id": sid})
    url = reverse("traces:session_detail", args=[project.pk, sid])
    response = owner_client.get(url)
    assert response.status_code == 200
    assert b"<b>chat</b>" not in response.content
    assert b"&lt;b&gt;chat&lt;/b&gt;" in response.content


def test_an_unknown_session_is_404(owner_client, sessions):
    assert owner_client.get(reverse("traces:session_detail", args=[sessions.pk, "nope"])).status_code == 404


def test_outsiders_get_404(client, outsider, sessions):
    client.force_login(outsider)
    assert client.get(reverse("traces:session_list", args=[sessions.pk])).status_code == 404
    assert client.get(reverse("traces:session_detail", args=[sessions.pk, "s-old"])).status_code == 404


def test_the_list_pages_by_last_activity(owner_client, project):
    now = time.time()
    for i in range(52):
        make_trace(project, n_llm=0, start=now - 1000 + i, attributes={"session.id": f"s{i:02d}"})
    first = owner_client.get(reverse("traces:session_list", args=[project.pk]))
    assert len(first.context["sessions"]) == 50
    older = first.context["next_before"]
    assert older
    after = first.context["next_after"]
    assert after == "s02" and f"&amp;after={after}" in first.content.decode()
    second = owner_client.get(reverse("traces:session_list", args=[project.pk]), {"before": older, "after": after})
    assert [r["session_id"] for r in second.context["sessions"]] == ["s01", "s00"]
    assert "Most recent" in second.content.decode()


def test_the_list_costs_a_fixed_number_of_queries(owner_client, sessions, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        owner_client.get(reverse("traces:session_list", args=[sessions.pk]))
