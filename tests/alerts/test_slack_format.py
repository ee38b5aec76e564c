"""A Slack channel gets an incoming-webhook body (blocks and a text fallback) carrying the whole payload."""

import pytest

from alerts import services
from alerts.delivery import delivery_attempt
from alerts.models import Delivery
from alerts.monitors import channel_create
from tests.alerts.helpers import known_alert
from tests.alerts.receiver import receiver

pytestmark = pytest.mark.django_db


def test_slack_blocks_carry_the_figures_runbook_deploys_and_traces(project):
    alert = known_alert(project)
    with receiver([200]) as slack:
        channel = channel_create(project=project, name="#oncall", kind="slack", url=slack.url)
        delivery = Delivery.objects.create(
            channel=channel, alert=alert, event="fired", payload=services.alert_message(alert, "fired")
        )
        assert delivery_attempt(delivery_pk=delivery.pk) is None
        (request,) = slack.wait_for(1)
    body = request["json"]
    assert set(body) == {"text", "blocks"}
    assert "X-Peekr-Signature" not in request["headers"]  # Slack URLs carry their own secret
    header, figures, details, traces, context = body["blocks"]
    assert header["type"] == "header"
    assert header["text"]["text"] == "[FIRING] Faithfulness: 0.610 over 24 h vs baseline 0.830 (n=1200)"
    assert [f["text"] for f in figures["fields"]] == [
        "*24 h mean*\n0.610",
        "*7-day baseline*\n0.830",
        "*Sample size*\n1200",
        "*Delta*\n-0.220 (-26.5 %)",
    ]
    assert details["text"]["text"] == (
        "*Moved most:* release 2.4.1: 0.61 vs 0.83\n"
        "*Runbook:* <https://wiki.example.com/runbooks/faithfulness>\n"
        "*Deploys (72 h):* 2.4.1 (prod, 2026-03-10T05:00:00+00:00)"
    )
    assert f"<http://localhost:8000/p/{project.pk}/traces/{'a' * 32}|aaaaaaaaaaaa> answer" in traces["text"]["text"]
    assert f"/p/{project.pk}/alerts/{alert.pk}|Open in Peekr>" in context["elements"][0]["text"]
    assert "Runbook: https://wiki.example.com/runbooks/faithfulness" in body["text"]
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.last_status_code == 200


def test_a_slack_url_that_answers_404_fails_for_good(project):
    alert = known_alert(project)
    with receiver([404]) as slack:
        channel = channel_create(project=project, name="#gone", kind="slack", url=slack.url)
        delivery = Delivery.objects.create(channel=channel, alert=alert, event="fired", payload={"event": "x"})
        delivery.payload = services.alert_message(alert, "fired")
        delivery.save()
        assert delivery_attempt(delivery_pk=delivery.pk) is None  # no retry: a 404 will not change
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_status_code == 404 and delivery.attempts == 1
