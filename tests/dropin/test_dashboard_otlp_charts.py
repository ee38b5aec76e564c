"""The OTLP metrics on the Dashboards page: token usage and durations by model, and the dropped count."""

import time

import pytest
from django.urls import reverse

from tests.dropin.payloads import metrics_request

PB = "application/x-protobuf"


def chart_url(project, name):
    return reverse("insights:dashboard_chart", args=[project.pk, name]) + "?range=1h"


def send_metrics(client, key):
    now_ns = time.time_ns()
    for i, at in enumerate((now_ns - 600_000_000_000, now_ns - 60_000_000_000), start=1):
        body = metrics_request(at_ns=at, scale=i).SerializeToString()
        resp = client.post("/v1/metrics", data=body, content_type=PB, HTTP_AUTHORIZATION=f"Bearer {key}")
        assert resp.status_code == 200


@pytest.mark.django_db
def test_the_dashboards_page_has_an_otlp_metrics_section(owner_client, project):
    html = owner_client.get(reverse("insights:dashboards", args=[project.pk])).content.decode()
    assert "OTLP metrics" in html and "Token usage by model (OTLP metrics)" in html


@pytest.mark.django_db
def test_token_usage_is_drawn_by_model_and_type_and_the_dropped_points_are_counted(
    client, owner, project, api_key, django_assert_max_num_queries
):
    send_metrics(client, api_key)
    client.force_login(owner)
    with django_assert_max_num_queries(10):
        html = client.get(chart_url(project, "otlp_tokens")).content.decode()
    assert "gpt-4o-mini \\u00b7 input" in html and "gpt-4o-mini \\u00b7 output" in html  # in the figure JSON
    assert "2 point(s) of other metrics accepted and not kept (http.server.duration)" in html


@pytest.mark.django_db
def test_durations_are_drawn_by_model(client, owner, project, api_key):
    send_metrics(client, api_key)
    client.force_login(owner)
    html = client.get(chart_url(project, "otlp_latency")).content.decode()
    assert "operation duration" in html and "gpt-4o-mini" in html


@pytest.mark.django_db
def test_without_points_the_chart_says_where_to_send_them(owner_client, project):
    html = owner_client.get(chart_url(project, "otlp_tokens")).content.decode()
    assert "send OTLP metrics to /v1/metrics" in html


@pytest.mark.django_db
def test_an_outsider_gets_404(client, outsider, project):
    client.force_login(outsider)
    assert client.get(chart_url(project, "otlp_tokens")).status_code == 404
