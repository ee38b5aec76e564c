"""A Slack channel gets the regression as blocks with a text fallback (alerts' Slack sender, its own body); email
channels are not told."""

import pytest

from alerts import delivery as alert_delivery
from alerts.models import Channel, Delivery
from tests.base import make_regression

pytestmark = pytest.mark.django_db


def test_slack_gets_blocks_and_email_nothing(project, django_capture_on_commit_callbacks):
    slack = Channel.objects.create(project=project, name="slack", kind="slack", url="https://hooks.slack.invalid/x")
    Channel.objects.create(project=project, name="mail", kind="email", emails=["oncall@example.com"])
    with django_capture_on_commit_callbacks(execute=False):
        regression = make_regression(project, release="3.0.0", trace_ids=["f" * 32])
    [delivery] = Delivery.objects.all()
    assert delivery.channel_id == slack.pk
    body = alert_delivery.payloads.slack_body(delivery.payload)
    assert body["blocks"][0]["text"]["text"] == f"[HIGH] Regression: {regression.title}"
    assert "*Release:* 3.0.0" in body["blocks"][1]["text"]["text"]
    assert f"/p/{project.pk}/traces/{'f' * 32}|ffffffffffff>" in body["blocks"][2]["text"]["text"]
    assert body["text"].startswith("[HIGH] Regression:")
