"""The trace list page /p/<id>/traces: filters, cursor pagination, htmx partials, empty states, access."""

import re
import time

import pytest
from django.conf import settings
from django.urls import reverse

from tests.base import hex_id, llm_attributes, make_project, make_raw_span, make_trace
from traces.models import Trace
from traces.services import spans_ingest


def list_url(project, **params):
    from urllib.parse import urlencode

    url = reverse("traces:trace_list", args=[project.pk])
    return url + ("?" + urlencode(params) if params else "")


def shown(response) -> list[str]:
    """Trace names in the rendered rows, in order."""
    return re.findall(r'class="trace-name" href="[^"]+">([^<]+)</a>', response.content.decode())


def make_roots(project, n: int, *, start: float, step: float = 1.0, name: str = "t{i}", **kw) -> None:
    """n single-span traces in one ingest call, one every `step` seconds from `start` (t0 oldest)."""
    spans_ingest(
        project=project,
        raws=[make_raw_span(name=name.format(i=i), start=start + i * step, duration=0.5, **kw) for i in range(n)],
    )


@pytest.fixture
def varied(project):
    """Traces that differ in one attribute each, so each filter has exactly one right answer."""
    now = time.time()
    make_trace(project, name="recent-ok", start=now - 60, n_llm=1)
    make_trace(project, name="two-days-old", start=now - 2 * 86400, n_llm=0)
    make_trace(project, name="failing", start=now - 120, n_llm=0, status_code=2, status_message="boom")
    make_trace(
        project,
        name="claude-call",
        start=now - 180,
        n_llm=0,
        attributes={**llm_attributes(model="claude-sonnet-4"), "session.id": "sess-1", "user.id": "alice"},
    )
    spans_ingest(project=project, raws=[make_raw_span(name="slow", start=now - 240, duration=30.0, service="billing")])
    return project


def test_anonymous_users_are_sent_to_login(client, project):
    response = client.get(list_url(project))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_home_redirects_to_the_first_project(owner_client, project):
    response = owner_client.get("/", follow=True)
    assert response.redirect_chain[-1] == (list_url(project), 302)


def test_home_without_projects_shows_how_to_create_one(client, outsider):
    client.force_login(outsider)
    response = client.get("/")
    assert response.status_code == 200
    assert b"No projects yet" in response.content
    assert b"python manage.py create_project NAME" in response.content


def test_it_lists_traces_newest_first_with_their_aggregates(owner_client, project):
    now = time.time()
    make_trace(project, name="older", start=now - 300)
    make_trace(project, name="newer", start=now - 30, n_llm=3)
    response = owner_client.get(list_url(project))
    assert response.status_code == 200
    assert shown(response) == ["newer", "older"]
    html = response.content.decode()
    assert "$0." in html  # gpt-4o-mini calls are priced
    newer = Trace.objects.get(name="newer")
    assert f"{newer.total_tokens:,}" in html
    assert reverse("traces:trace_detail", args=[project.pk, newer.trace_id]) in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"recent-ok", "two-days-old", "failing", "claude-call", "slow"}),
        ({"range": "24h"}, {"recent-ok", "failing", "claude-call", "slow"}),
        ({"range": "all"}, {"recent-ok", "two-days-old", "failing", "claude-call", "slow"}),
        ({"name": "CLAUDE"}, {"claude-call"}),
        ({"status": "error"}, {"failing"}),
        ({"status": "ok", "range": "7d"}, {"recent-ok", "two-days-old", "claude-call", "slow"}),
        ({"model": "claude-sonnet-4"}, {"claude-call"}),
        ({"session_id": "sess-1"}, {"claude-call"}),
        ({"user_id": "alice"}, {"claude-call"}),
        ({"service": "billing"}, {"slow"}),
        ({"min_duration_ms": "10000"}, {"slow"}),
        ({"has_error": "true"}, {"failing"}),
        ({"has_error": "false", "range": "1h"}, {"recent-ok", "claude-call", "slow"}),
    ],
)
def test_filters_filter(owner_client, varied, params, expected):
    response = owner_client.get(list_url(varied, **params), follow=True)  # range=all: redirected to the bare URL
    assert response.status_code == 200
    assert set(shown(response)) == expected


def test_an_explicit_time_window_filters(owner_client, varied):
    two_days_old = Trace.objects.get(name="two-days-old").start_time
    after = (two_days_old.replace(microsecond=0)).strftime("%Y-%m-%dT%H:%M")
    before = two_days_old.replace(second=0, microsecond=0).timestamp() + 120
    from datetime import UTC, datetime

    before = datetime.fromtimestamp(before, UTC).strftime("%Y-%m-%dT%H:%M")
    response = owner_client.get(list_url(varied, start_after=after, start_before=before))
    # start_after is minute-rounded down: "two-days-old" starts inside the window, the others long after it.
    assert set(shown(response)) == {"two-days-old"}


def test_a_bad_filter_value_is_ignored_not_an_error(owner_client, varied):
    response = owner_client.get(list_url(varied, min_duration_ms="fast", start_after="yesterday", range="1y"))
    assert response.status_code == 200
    assert len(shown(response)) == 5


def test_the_form_keeps_the_filters(owner_client, varied):
    response = owner_client.get(list_url(varied, name="slow", status="error", range="24h"))
    html = response.content.decode()
    assert 'name="name" value="slow"' in html
    assert '<option value="error" selected>' in html
    assert '<option value="24h" selected>' in html


def test_pagination_follows_the_cursor_without_repeats_or_gaps(owner_client, project):
    # Several traces share a start time: the (start_time, id) cursor must still neither repeat nor skip.
    start = time.time() - 3600
    spans_ingest(
        project=project,
        raws=[make_raw_span(name=f"t{i:03d}", start=start + (i // 3), duration=0.1) for i in range(130)],
    )
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        response = owner_client.get(list_url(project, cursor=cursor) if cursor else list_url(project))
        page = response.context["page"]
        seen += shown(response)
        pages += 1
        if not page.next_cursor:
            break
        assert f"cursor={page.next_cursor}" in response.content.decode()  # the "Load older" link carries it
        cursor = page.next_cursor
    assert pages == 3
    assert len(seen) == 130 == len(set(seen))
    expected = [t.name for t in Trace.objects.filter(project=project).order_by("-start_time", "-pk")]
    assert seen == expected


def test_a_cursor_page_links_back_to_the_newest(owner_client, project):
    make_roots(project, 60, start=time.time() - 3600)
    first = owner_client.get(list_url(project, status="ok"))
    cursor = first.context["page"].next_cursor
    second = owner_client.get(list_url(project, status="ok", cursor=cursor))
    html = second.content.decode()
    assert "Newest traces" in html
    assert len(shown(second)) == 10
    assert "status=ok" in html  # filters survive paging


def test_load_more_over_htmx_returns_only_rows_and_the_next_button(owner_client, project):
    make_roots(project, 120, start=time.time() - 3600)
    cursor = owner_client.get(list_url(project)).context["page"].next_cursor
    response = owner_client.get(
        list_url(project, cursor=cursor), headers={"HX-Request": "true", "HX-Target": "load-more"}
    )
    html = response.content.decode()
    assert "<html" not in html and "<table" not in html
    assert len(shown(response)) == 50
    assert 'id="load-more"' in html


def test_the_filter_form_over_htmx_swaps_the_results_only(owner_client, varied):
    response = owner_client.get(
        list_url(varied, status="error"), headers={"HX-Request": "true", "HX-Target": "results"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results"')
    assert "<html" not in html and 'class="filters"' not in html
    assert shown(response) == ["failing"]
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(owner_client, varied):
    response = owner_client.get(list_url(varied), headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert b"<html" in response.content


def test_an_empty_project_explains_how_to_send_the_first_trace(owner_client, project):
    response = owner_client.get(list_url(project))
    html = response.content.decode()
    assert "Send your first trace" in html
    assert f"OTEL_EXPORTER_OTLP_ENDPOINT={settings.PEEKR_PUBLIC_URL}/" in html  # configured, not the Host header
    assert 'OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer &lt;your key&gt;"' in html
    assert reverse("traces:keys", args=[project.pk]) in html
    assert "OTLPSpanExporter" in html and "peekr.instrument(exporter=HTTPExporter(" in html
    assert 'data-copy="#snippet-env"' in html
    assert "No traces match" not in html


def test_no_match_is_a_different_empty_state_with_a_clear_link(owner_client, varied):
    response = owner_client.get(list_url(varied, name="nothing-like-this"))
    html = response.content.decode()
    assert "No traces match these filters" in html
    assert f'href="{list_url(varied)}">Clear filters' in html
    assert "Send your first trace" not in html


def test_previews_are_escaped(owner_client, project):
    make_trace(project, name="<b>bold</b>", attributes={"input.value": "<script>alert(1)</script>"})
    html = owner_client.get(list_url(project)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html


def test_internal_traces_are_not_listed(owner_client, project):
    make_trace(project, name="judge", n_llm=0)
    make_trace(project, name="app", n_llm=0)
    Trace.objects.filter(name="judge").update(is_internal=True)  # Peekr's own judge calls
    names = shown(owner_client.get(list_url(project)))
    assert names == ["app"]


def test_it_costs_a_fixed_number_of_queries_whatever_the_page_size(
    owner_client, project, django_assert_max_num_queries
):
    make_roots(project, 60, start=time.time() - 3600, attributes=llm_attributes())
    # session, user, membership + project, the page of traces, the bounded total, the saved views, the switcher.
    with django_assert_max_num_queries(7):
        response = owner_client.get(list_url(project, status="ok", name="t"))
    assert len(shown(response)) == 50


def test_outsiders_get_404_on_the_page_and_its_partials(client, outsider, project):
    make_trace(project)
    client.force_login(outsider)
    assert client.get(list_url(project)).status_code == 404
    assert client.get(list_url(project), headers={"HX-Request": "true", "HX-Target": "results"}).status_code == 404
    assert client.get(list_url(project), headers={"HX-Request": "true", "HX-Target": "load-more"}).status_code == 404
    assert client.get(reverse("traces:project_home", args=[project.pk])).status_code == 404


def test_an_unknown_project_is_404(owner_client, project):
    assert owner_client.get(reverse("traces:trace_list", args=[project.pk + 999])).status_code == 404


def test_a_member_sees_only_their_projects_in_the_switcher(owner_client, owner, project, other_project_and_key):
    mine, _ = make_project("mine-too", owner=owner)
    html = owner_client.get(list_url(project)).content.decode()
    assert "mine-too" in html and "acme" in html
    assert "elsewhere" not in html


def test_trace_ids_link_is_project_scoped(owner_client, project):
    trace_id, _ = make_trace(project)
    assert hex_id(16) != trace_id
    html = owner_client.get(list_url(project)).content.decode()
    assert f"/p/{project.pk}/traces/{trace_id}" in html
