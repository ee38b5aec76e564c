"""Monitors (a metric against its 7-day baseline), the alerts they raise, and the channels that deliver them.

A monitor's evaluation state lives on its row (the consecutive page-band evaluations and the last figures), so
the Monitors page lists them without reading rollups. An alert is open (firing or acknowledged) until it is
resolved; one open alert per monitor is a database constraint, so a burst of evaluations never opens two.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Channel(models.Model):
    class Kind(models.TextChoices):
        WEBHOOK = "webhook"
        SLACK = "slack"
        EMAIL = "email"

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="alert_channels")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    url = models.URLField(max_length=2000, blank=True)  # webhook and slack
    emails = models.JSONField(default=list, blank=True)  # email
    # HMAC-SHA256 key of the webhook signature; shown to the project's editors so receivers can verify.
    secret = models.CharField(max_length=64, default="", blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="channel_unique_name")]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def new_secret() -> str:
        return secrets.token_hex(32)

    @property
    def target(self) -> str:
        return ", ".join(self.emails) if self.kind == self.Kind.EMAIL else self.url


class Monitor(models.Model):
    class Kind(models.TextChoices):
        METRIC = "metric"
        USER_COST = "user_cost"  # one user's 24 h cost against their own 7-day baseline

    class Direction(models.TextChoices):
        DOWN = "down"  # a drop is bad (scores, pass rates)
        UP = "up"  # a rise is bad (latency, cost, failure rates)

    class Verdict(models.TextChoices):
        NONE = ""
        INSUFFICIENT = "insufficient"
        PASS = "pass"
        REVIEW = "review"
        PAGE = "page"

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="monitors")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.METRIC)
    metric = models.CharField(max_length=120)
    filter = models.JSONField(default=dict, blank=True)  # {} or {dim: value}, one dim
    direction = models.CharField(max_length=4, choices=Direction.choices)
    runbook_url = models.CharField(max_length=2000, blank=True)  # shown as given, even if it is dead
    owners = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    channels = models.ManyToManyField(Channel, blank=True, related_name="monitors")
    review_sigma = models.FloatField(default=3.0)
    page_sigma = models.FloatField(default=5.0)
    sustain_count = models.PositiveSmallIntegerField(default=3)
    min_sample = models.PositiveIntegerField(default=30)
    factor = models.FloatField(default=5.0)  # user_cost: how many times the user's own daily baseline
    enabled = models.BooleanField(default=True)
    is_builtin = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Evaluation state
    consecutive = models.PositiveSmallIntegerField(default=0)  # consecutive page-band evaluations
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_verdict = models.CharField(max_length=12, choices=Verdict.choices, default="", blank=True)
    last_value = models.FloatField(null=True, blank=True)
    last_baseline = models.FloatField(null=True, blank=True)
    last_n = models.IntegerField(default=0)
    last_z = models.FloatField(null=True, blank=True)
    last_detail = models.CharField(max_length=300, blank=True)
    last_review_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="monitor_unique_name")]

    def __str__(self) -> str:
        return self.name


class Alert(models.Model):
    class State(models.TextChoices):
        FIRING = "firing"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    OPEN_STATES = (State.FIRING, State.ACKNOWLEDGED)

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="alerts", db_index=False)
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="alerts")
    state = models.CharField(max_length=12, choices=State.choices, default=State.FIRING)
    payload = models.JSONField(default=dict)  # the same in the UI, the API and every channel
    opened_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["monitor"], condition=~Q(state="resolved"), name="alert_one_open")
        ]
        indexes = [models.Index(fields=["project", "-opened_at"], name="alert_recent")]

    @property
    def is_open(self) -> bool:
        return self.state != self.State.RESOLVED


class AlertEvent(models.Model):
    """One line of an alert's history: fired, acknowledged, resolved (by whom, or by recovery)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16)  # fired | acknowledged | resolved
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)


class Delivery(models.Model):
    """One message to one channel (an alert firing or resolving, or a test), with every attempt logged."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RETRYING = "retrying"
        DELIVERED = "delivered"
        FAILED = "failed"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=16)  # fired | resolved | test
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    log = models.JSONField(default=list)  # [{"at", "attempt", "status_code", "error", "ms"}]
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["channel", "-created_at"], name="delivery_recent")]
