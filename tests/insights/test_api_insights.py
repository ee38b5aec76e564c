"""GET /api/v1/insights (ranked, filterable), PATCH /api/v1/insights/{id}, GET /api/v1/traces/{id}/insights."""

import time

import pytest

from insights import services
from insights.models import Insight
from tests.insights.stored import duplicate_trace, quiet_trace, sequential_trace

pytestmark = pytest.mark.django_db

LIST = "/api/v1/insights"


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def detected(trace):
    services.trace_detect(trace_pk=trace.pk)
    return trace


@pytest.fixture
def insights(project):
    """support-api: sequential calls, 4.8 s saved in each of three traces; billing-api: sequential, 1.0 s once;
    a duplicate gpt-4o call: 1.3 s and the most money."""
    now = time.time()
    for i in range(3):
        detected(sequential_trace(project, start=now - 600 * (i + 1)))
    detected(sequential_trace(project, start=now - 300, service="billing-api", first=1.5, second=1.0))
    detected(duplicate_trace(project, start=now - 200))
    return {i.service + ":" + i.detector: i for i in Insight.objects.filter(project=project)}


def test_it_ranks_by_time_saved_per_day(client, api_key, insights):
    response = client.get(LIST, headers=auth(api_key))
    assert response.status_code == 200
    body = response.json()
    assert body["window"] == "7d" and body["total"] == 3 and body["days"] == 1.0
    items = body["items"]
    assert [(i["service"], i["detector"]) for i in items] == [
        ("support-api", "sequential_execution"),
        ("support-api", "duplicate_calls"),
        ("billing-api", "sequential_execution"),
    ]
    top = items[0]
    assert top["window_count"] == top["count"] == 3
    assert top["saving_ms_per_day"] == pytest.approx(3 * 4800, abs=5)
    assert top["message"].startswith('Root cause: sequential execution of "chat.completions"\n2 spans ran')
    assert top["fix"]["summary"] and top["fix"]["snippets"][0]["after"]
    assert top["endpoints"] == ["POST /v1/answer"]
    assert len(top["examples"]) == 3 and top["examples"][0]["seen_at"] > top["examples"][2]["seen_at"]
    assert top["status"] == "open" and top["first_seen"] < top["last_seen"]


def test_money_first_puts_the_duplicate_gpt_4o_call_on_top(client, api_key, insights):
    items = client.get(LIST, {"sort": "money"}, headers=auth(api_key)).json()["items"]
    assert items[0]["detector"] == "duplicate_calls"
    assert items[0]["saving_usd_per_day"] > 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"detector": "duplicate_calls"}, ["duplicate_calls"]),
        ({"service": "billing-api"}, ["sequential_execution"]),
        ({"q": "DUPLICATE"}, ["duplicate_calls"]),
        ({"q": "nothing like this"}, []),
    ],
)
def test_it_filters(client, api_key, insights, params, expected):
    items = client.get(LIST, params, headers=auth(api_key)).json()["items"]
    assert [i["detector"] for i in items] == expected


def test_status_filters_and_the_window(client, api_key, insights):
    services.insight_set_status(insight=insights["billing-api:sequential_execution"], status="dismissed")
    active = client.get(LIST, {"status": "active"}, headers=auth(api_key)).json()
    dismissed = client.get(LIST, {"status": "dismissed"}, headers=auth(api_key)).json()
    assert active["total"] == 2 and [i["service"] for i in dismissed["items"]] == ["billing-api"]
    assert client.get(LIST, {"status": "gone"}, headers=auth(api_key)).status_code == 422
    assert client.get(LIST, {"window": "24h", "limit": 1}, headers=auth(api_key)).json()["window"] == "24h"


def test_pages_with_limit_and_offset(client, api_key, insights):
    first = client.get(LIST, {"limit": 2}, headers=auth(api_key)).json()
    rest = client.get(LIST, {"limit": 2, "offset": 2}, headers=auth(api_key)).json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1
    assert first["total"] == rest["total"] == 3


def test_the_list_costs_the_same_queries_for_any_number_of_insights(
    client, project, api_key, insights, django_assert_max_num_queries
):
    client.get(LIST, headers=auth(api_key))  # the key's first use is recorded (then at most once a minute)
    # key, oldest finding in the window, window sums, insights (their example traces are on the row)
    with django_assert_max_num_queries(4):
        assert len(client.get(LIST, headers=auth(api_key)).json()["items"]) == 3
    for i in range(5):
        detected(sequential_trace(project, service=f"svc-{i}"))
    with django_assert_max_num_queries(4):
        assert len(client.get(LIST, headers=auth(api_key)).json()["items"]) == 8


def test_a_key_sees_only_its_project(client, insights, other_project_and_key):
    _, other_key = other_project_and_key
    assert client.get(LIST, headers=auth(other_key)).json() == {"items": [], "total": 0, "window": "7d", "days": 1.0}
    assert client.get(LIST).status_code == 401


def test_patch_dismisses_fixes_and_reopens(client, api_key, insights):
    insight = insights["support-api:sequential_execution"]
    url = f"{LIST}/{insight.pk}"
    response = client.patch(url, {"status": "fixed"}, content_type="application/json", headers=auth(api_key))
    assert response.status_code == 200
    assert response.json()["status"] == "fixed" and response.json()["fixed_at"]
    insight.refresh_from_db()
    assert insight.status == "fixed"

    body = client.patch(url, {"status": "dismissed"}, content_type="application/json", headers=auth(api_key)).json()
    assert body["status"] == "dismissed"
    body = client.patch(url, {"status": "open"}, content_type="application/json", headers=auth(api_key)).json()
    assert body["status"] == "open" and body["fixed_at"] is None


def test_patch_refuses_regressed_and_other_projects(client, api_key, insights, other_project_and_key):
    insight = insights["support-api:sequential_execution"]
    url = f"{LIST}/{insight.pk}"
    bad = client.patch(url, {"status": "regressed"}, content_type="application/json", headers=auth(api_key))
    assert bad.status_code == 422
    _, other_key = other_project_and_key
    outsider = client.patch(url, {"status": "dismissed"}, content_type="application/json", headers=auth(other_key))
    assert outsider.status_code == 404 and outsider.json() == {
        "code": "not_found",
        "detail": f"insight {insight.pk} not found",
        "errors": [],
    }
    insight.refresh_from_db()
    assert insight.status == "open"


def test_a_trace_s_findings_with_their_message(client, project, api_key):
    trace = detected(sequential_trace(project))
    response = client.get(f"/api/v1/traces/{trace.trace_id}/insights", headers=auth(api_key))
    assert response.status_code == 200
    body = response.json()
    assert body["trace_id"] == trace.trace_id
    (finding,) = body["findings"]
    assert finding["detector"] == "sequential_execution"
    assert finding["message"] == (
        'Root cause: sequential execution of "chat.completions"\n2 spans ran one after another. Total: 10.5s, '
        "slowest single: 5.7s. Running them concurrently would save 4.8s."
    )
    assert len(finding["span_ids"]) == 2 and finding["insight_status"] == "open"
    assert finding["saving_ms"] == pytest.approx(4800, abs=1) and finding["fix"]["snippets"]
    # The upper-case id works as on the trace endpoint; a trace without findings has an empty list.
    upper = client.get(f"/api/v1/traces/{trace.trace_id.upper()}/insights", headers=auth(api_key))
    assert upper.json()["findings"][0]["id"] == finding["id"]
    quiet = detected(quiet_trace(project))
    assert client.get(f"/api/v1/traces/{quiet.trace_id}/insights", headers=auth(api_key)).json()["findings"] == []


def test_another_project_s_trace_is_404(client, project, other_project_and_key):
    trace = detected(sequential_trace(project))
    _, other_key = other_project_and_key
    response = client.get(f"/api/v1/traces/{trace.trace_id}/insights", headers=auth(other_key))
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": f"trace {trace.trace_id} not found", "errors": []}
