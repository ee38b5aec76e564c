"""The Insights tab (/p/<id>/insights), an insight's page, and dismiss / fix / reopen from them."""

import re
import time

import pytest
from django.urls import reverse

from insights import services
from insights.models import Insight
from tests.base import make_user
from tests.insights.stored import duplicate_trace, sequential_trace
from traces.models import Membership, Role

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def list_url(project, **params):
    from urllib.parse import urlencode

    return reverse("insights:insight_list", args=[project.pk]) + ("?" + urlencode(params) if params else "")


def detail_url(project, insight):
    return reverse("insights:insight_detail", args=[project.pk, insight.pk])


def status_url(project, insight):
    return reverse("insights:insight_status", args=[project.pk, insight.pk])


def card_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<li class="insight-card[^"]*" id="insight-(\d+)"', html)]


@pytest.fixture
def insights(project):
    now = time.time()
    for i in range(2):
        services.trace_detect(trace_pk=sequential_trace(project, start=now - 900 * (i + 1)).pk)
    services.trace_detect(trace_pk=duplicate_trace(project, start=now - 100).pk)
    return {
        "sequential": Insight.objects.get(detector="sequential_execution"),
        "duplicate": Insight.objects.get(detector="duplicate_calls"),
    }


def member(project, role):
    user = make_user()
    Membership.objects.create(project=project, user=user, role=role)
    return user


def test_the_tab_ranks_insights_with_their_figures_message_examples_and_fix(owner_client, project, insights):
    response = owner_client.get(list_url(project))
    assert response.status_code == 200
    html = response.content.decode()
    assert card_ids(html) == [insights["sequential"].pk, insights["duplicate"].pk]
    assert "Sequential execution of &quot;chat.completions&quot;" in html
    assert "2 spans ran one after another. Total: 10.5s, slowest single: 5.7s." in html
    assert "9.60 s" in html  # 2 x 4.8 s saved in the last day
    assert "POST /v1/answer" in html  # the endpoint
    for finding in insights["sequential"].findings.all():
        assert reverse("traces:trace_detail", args=[project.pk, finding.trace.trace_id]) in html
    assert 'data-copy="#fix-' in html and "Before" in html and "After" in html
    assert f'<a href="/p/{project.pk}/insights" aria-current="page">Insights</a>' in html


def test_filters_arrive_as_an_htmx_partial(owner_client, project, insights):
    response = owner_client.get(list_url(project, detector="duplicate_calls"), headers=HTMX)
    html = response.content.decode()
    assert "<html" not in html
    assert card_ids(html) == [insights["duplicate"].pk]
    nothing = owner_client.get(list_url(project, q="no such thing"), headers=HTMX).content.decode()
    assert "No insight matches these filters" in nothing


def test_dismissed_and_fixed_leave_the_default_list(owner_client, project, insights):
    services.insight_set_status(insight=insights["duplicate"], status="dismissed")
    assert card_ids(owner_client.get(list_url(project)).content.decode()) == [insights["sequential"].pk]
    dismissed = owner_client.get(list_url(project, status="dismissed")).content.decode()
    assert card_ids(dismissed) == [insights["duplicate"].pk] and "Reopen" in dismissed


def test_an_empty_project_explains_what_will_show_up(owner_client, project):
    html = owner_client.get(list_url(project)).content.decode()
    assert "No insights yet" in html


def test_marking_fixed_with_htmx_returns_the_card(owner_client, project, insights):
    insight = insights["sequential"]
    response = owner_client.post(
        status_url(project, insight), {"status": "fixed", "window": "7d", "rank": "1"}, headers=HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert card_ids(html) == [insight.pk] and "<html" not in html
    assert 'data-status="fixed"' in html and "Reopen" in html
    insight.refresh_from_db()
    assert insight.status == "fixed" and insight.fixed_at is not None


def test_a_plain_form_post_goes_to_the_insight_page(owner_client, project, insights):
    insight = insights["duplicate"]
    response = owner_client.post(status_url(project, insight), {"status": "dismissed"})
    assert response.status_code == 302 and response["Location"] == detail_url(project, insight)
    insight.refresh_from_db()
    assert insight.status == "dismissed"
    assert owner_client.post(status_url(project, insight), {"status": "regressed"}).status_code == 400


def test_read_only_members_see_but_cannot_change(client, project, insights):
    viewer = member(project, Role.VIEWER)
    client.force_login(viewer)
    html = client.get(list_url(project)).content.decode()
    assert card_ids(html) and "Mark fixed" not in html
    assert client.post(status_url(project, insights["sequential"]), {"status": "fixed"}).status_code == 404
    insights["sequential"].refresh_from_db()
    assert insights["sequential"].status == "open"


def test_the_insight_page_lists_its_traces(owner_client, project, insights):
    insight = insights["sequential"]
    services.insight_set_status(insight=insight, status="fixed")
    html = owner_client.get(detail_url(project, insight)).content.decode()
    assert "Traces with this finding" in html
    assert html.count(f'<tr data-href="/p/{project.pk}/traces/') == 2
    assert "Marked fixed" in html and "Reopen" in html
    assert "Running them concurrently would save 4.8s." in html


def test_outsiders_and_anonymous_users_get_nothing(client, project, outsider, insights):
    assert client.get(list_url(project)).status_code == 302  # to the login page
    client.force_login(outsider)
    insight = insights["sequential"]
    assert client.get(list_url(project)).status_code == 404
    assert client.get(detail_url(project, insight)).status_code == 404
    assert client.post(status_url(project, insight), {"status": "dismissed"}).status_code == 404
    insight.refresh_from_db()
    assert insight.status == "open"


def test_an_insight_of_another_project_is_404(owner_client, project, other_project_and_key):
    other, _ = other_project_and_key
    services.trace_detect(trace_pk=sequential_trace(other).pk)
    theirs = Insight.objects.get(project=other)
    assert owner_client.get(reverse("insights:insight_detail", args=[project.pk, theirs.pk])).status_code == 404


def test_the_list_costs_a_fixed_number_of_queries(owner_client, project, insights, django_assert_max_num_queries):
    # session, user, membership, the filter menus' services, oldest finding, window sums, insights, the project
    # switcher
    with django_assert_max_num_queries(8):
        owner_client.get(list_url(project))
    for i in range(4):
        services.trace_detect(trace_pk=sequential_trace(project, service=f"svc-{i}").pk)
    with django_assert_max_num_queries(8):
        assert len(card_ids(owner_client.get(list_url(project)).content.decode())) == 6
