"""Dismiss or mark fixed from the list: the list's count changes in the same htmx response (out-of-band swap)."""

import re

import pytest

from tests.insights.test_views_insights import HTMX, insights, list_url, status_url  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def total_of(html: str) -> tuple[int, bool]:
    match = re.search(
        r'<p id="insight-total" class="muted small result-note"( hx-swap-oob="true")?>\s*(\d+) insight', html
    )
    assert match, html[:2000]
    return int(match.group(2)), bool(match.group(1))


@pytest.mark.parametrize("status", ["dismissed", "fixed"])
def test_the_count_is_swapped_out_of_band_with_the_card(owner_client, project, insights, status):  # noqa: F811
    page = owner_client.get(list_url(project)).content.decode()
    assert total_of(page) == (2, False)
    list_query = re.search(r'name="list_query" value="([^"]*)"', page).group(1)
    response = owner_client.post(
        status_url(project, insights["duplicate"]),
        {"status": status, "window": "7d", "rank": "1", "list_query": list_query},
        headers=HTMX,
    )
    html = response.content.decode()
    assert f'data-status="{status}"' in html  # the card
    assert total_of(html) == (1, True)  # and the count, now one fewer active insight


def test_the_count_follows_the_lists_own_filters(owner_client, project, insights):  # noqa: F811
    response = owner_client.post(
        status_url(project, insights["duplicate"]),
        {"status": "dismissed", "window": "7d", "list_query": "status=dismissed"},
        headers=HTMX,
    )
    assert total_of(response.content.decode()) == (1, True)  # the dismissed list now holds it
