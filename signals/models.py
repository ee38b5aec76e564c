"""Signals: what users say (explicit feedback) and what they do (rephrase, abandon, escalate), per trace.

A Signal is one fact about one trace. Explicit feedback arrives through `POST /api/v1/feedback` (source "api")
or as span attributes/events (source "span"); derived signals are computed by the worker from sessions
(source "derived"). `key` makes every write idempotent: the same fact written twice is one row.

The RoutingPolicy says, per project, what each signal kind sets in motion (judge, review, golden candidate,
baseline only) and the windows the derivations use.
"""

from django.db import models
from django.utils import timezone


class SignalKind(models.TextChoices):
    THUMBS_UP = "thumbs_up", "Thumbs up"
    THUMBS_DOWN = "thumbs_down", "Thumbs down"
    RATING = "rating", "Rating"
    COMMENT = "comment", "Comment"
    ESCALATION = "escalation", "Escalation"
    TASK_COMPLETED = "task_completed", "Task completed"
    EDIT = "edit", "Edited answer"
    REPHRASE = "rephrase", "Rephrase"
    ABANDONMENT = "abandonment", "Abandonment"


class SignalSource(models.TextChoices):
    API = "api", "API"
    SPAN = "span", "Span"
    DERIVED = "derived", "Derived"


class Signal(models.Model):
    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    trace = models.ForeignKey("traces.Trace", on_delete=models.CASCADE, related_name="signals")
    kind = models.CharField(max_length=20, choices=SignalKind.choices)
    # rating normalised 0-1, edit distance 0-1, rephrase similarity 0-1; None when the kind has no number
    value = models.FloatField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=SignalSource.choices)
    session_id = models.CharField(max_length=200, blank=True)  # copied from the trace
    user_id = models.CharField(max_length=200, blank=True)  # copied from the trace
    evidence = models.JSONField(default=dict, blank=True)
    key = models.CharField(max_length=255)  # idempotency: unique with the project
    created_at = models.DateTimeField(default=timezone.now)  # when it happened

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "key"], name="signal_key_unique")]
        indexes = [
            models.Index(fields=["project", "kind", "-created_at"], name="signal_kind"),
            models.Index(fields=["project", "session_id"], name="signal_session"),
            models.Index(fields=["project", "-created_at", "-id"], name="signal_list"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} on trace {self.trace_id}"


class RoutingPolicy(models.Model):
    """Per project: signal kind -> actions, and the windows of the derived signals."""

    project = models.OneToOneField("traces.Project", on_delete=models.CASCADE, related_name="+")
    # {kind: ["judge", "review", "golden", "baseline"]}; a kind missing here takes the default
    actions = models.JSONField(default=dict, blank=True)
    rephrase_window_seconds = models.PositiveIntegerField(default=600)
    rephrase_threshold = models.FloatField(default=80.0)  # rapidfuzz token_set_ratio, 0-100
    abandonment_quiet_seconds = models.PositiveIntegerField(default=1800)
    # fnmatch patterns on tool / span names that mean "handed off to a human or another agent"
    escalation_patterns = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
