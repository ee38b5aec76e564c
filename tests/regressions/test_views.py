"""The Regressions page and a regression's page: filters, an empty state, owner and status changed with htmx by
editors only, linked traces and history; outsiders get 404; the list's queries are pinned."""

import pytest

from regressions.models import Regression
from tests.base import make_regression, make_trace, make_user
from traces.models import Membership, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_client(client, project):
    viewer = make_user("viewer")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    return client


def test_the_empty_state_says_what_opens_a_regression(owner_client, project):
    html = owner_client.get(f"/p/{project.pk}/regressions").content.decode()
    assert "No open regressions" in html and "peekr_regress" in html
    assert 'aria-current="page">Regressions</a>' in html


def test_the_list_filters_and_its_queries_are_pinned(owner_client, project, django_assert_max_num_queries):
    for i in range(12):
        make_regression(
            project, key=f"evaluator:e{i}", release=f"2.{i % 3}.0", severity="critical" if i == 5 else "low"
        )
    with django_assert_max_num_queries(10):
        page = owner_client.get(f"/p/{project.pk}/regressions")
    html = page.content.decode()
    assert page.status_code == 200 and html.count('class="regression-row"') == 12
    assert html.index('data-severity="critical"') < html.index('data-severity="low"')
    filtered = owner_client.get(f"/p/{project.pk}/regressions?release=2.1.0&severity=low").content.decode()
    assert filtered.count('class="regression-row"') == 4  # e1, e4, e7, e10
    none = owner_client.get(f"/p/{project.pk}/regressions?status=fixed").content.decode()
    assert "No regressions match these filters" in none


def test_owner_and_status_change_with_htmx(owner_client, project, owner):
    regression = make_regression(project)
    url = f"/p/{project.pk}/regressions/{regression.pk}/change"
    row = owner_client.post(url, {"owner": "owner"}, headers={"HX-Request": "true"})
    assert row.status_code == 200
    html = row.content.decode()
    assert html.strip().startswith(f'<tr class="regression-row" id="regression-{regression.pk}"')
    assert '<option value="owner" selected>' in html
    row = owner_client.post(url, {"status": "investigating"}, headers={"HX-Request": "true"})
    assert 'data-status="investigating"' in row.content.decode()
    regression.refresh_from_db()
    assert (regression.owner, regression.status) == (owner, "investigating")
    refused = owner_client.post(url, {"owner": "nobody-here"}, headers={"HX-Request": "true"})
    assert refused.status_code == 400 and "not a member" in refused.content.decode()
    plain = owner_client.post(url, {"status": "fixed"})
    assert plain.status_code == 302 and plain["Location"] == f"/p/{project.pk}/regressions/{regression.pk}"


def test_the_detail_page_shows_traces_and_history(owner_client, project):
    trace_id = make_trace(project, n_llm=0)[0]
    regression = make_regression(project, trace_ids=[trace_id, "0" * 32])
    html = owner_client.get(f"/p/{project.pk}/regressions/{regression.pk}").content.decode()
    assert f'href="/p/{project.pk}/traces/{trace_id}"' in html
    assert "0" * 32 in html and "(not stored)" in html
    assert "opened by canary verdict on release 2.0.0" in html


def test_viewers_read_but_cannot_change(viewer_client, project):
    regression = make_regression(project)
    html = viewer_client.get(f"/p/{project.pk}/regressions").content.decode()
    assert f'id="regression-{regression.pk}"' in html and '<select name="owner"' not in html
    url = f"/p/{project.pk}/regressions/{regression.pk}/change"
    assert viewer_client.post(url, {"status": "fixed"}).status_code == 404
    assert Regression.objects.get().status == "open"


def test_outsiders_get_404(client, outsider, project):
    regression = make_regression(project)
    client.force_login(outsider)
    for path in ("regressions", f"regressions/{regression.pk}"):
        assert client.get(f"/p/{project.pk}/{path}").status_code == 404
    assert client.post(f"/p/{project.pk}/regressions/{regression.pk}/change", {"status": "fixed"}).status_code == 404
