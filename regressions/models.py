"""A regression: something got worse on a release, as work for an engineer (owner, severity, status, history).

One open regression (open or investigating) per (project, source, key, release) is a partial unique constraint:
`key` names what regressed for its source (`evaluator:<name>` for a verdict, `golden:<set>` for a peekr_regress
run, `monitor:<id>` for an alert), so a source that keeps failing adds traces to the open record instead of
opening a storm of them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

MAX_TRACES = 20  # the worst examples kept per regression (newest first)


class Regression(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "open"
        INVESTIGATING = "investigating", "investigating"
        FIXED = "fixed", "fixed"
        WONT_FIX = "wont_fix", "won't fix"

    OPEN_STATES = (Status.OPEN, Status.INVESTIGATING)

    class Severity(models.TextChoices):
        CRITICAL = "critical"
        HIGH = "high"
        MEDIUM = "medium"
        LOW = "low"

    class Source(models.TextChoices):
        VERDICT = "verdict", "canary verdict"
        REGRESS_RUN = "regress_run", "peekr_regress run"
        ALERT = "alert", "paging alert"
        MANUAL = "manual", "filed by hand"

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="regressions", db_index=False)
    title = models.CharField(max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    severity = models.CharField(max_length=8, choices=Severity.choices)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN)
    source = models.CharField(max_length=12, choices=Source.choices)
    key = models.CharField(max_length=200)  # what regressed, for its source (see the module docstring)
    evaluator = models.CharField(max_length=200, blank=True)  # the evaluator or metric
    release = models.CharField(max_length=100, blank=True)  # the release it was last seen on ("" unknown)
    baseline_release = models.CharField(max_length=100, blank=True)
    releases = models.JSONField(default=list)  # every release it was seen on, first first
    # What opened it: an alert, a peekr_regress run, or (verdicts have no row) the comparison in `details`.
    alert = models.ForeignKey("alerts.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    regression_run = models.ForeignKey(
        "annotations.RegressionRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_url = models.CharField(max_length=2000, blank=True)  # a link to what opened it
    drop = models.FloatField(null=True, blank=True)  # the size of the drop the severity was read from
    details = models.JSONField(default=dict, blank=True)  # the source's figures at the last occurrence
    trace_ids = models.JSONField(default=list)  # the worst examples, newest first, at most MAX_TRACES
    occurrences = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    fixed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "source", "key", "release"],
                condition=Q(status__in=["open", "investigating"]),
                name="regression_one_open",
            )
        ]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="regression_recent"),
            models.Index(fields=["project", "source", "key"], name="regression_key"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATES


class RegressionEvent(models.Model):
    """One line of a regression's history: who (None: Peekr itself), when, what."""

    regression = models.ForeignKey(Regression, on_delete=models.CASCADE, related_name="events", db_index=False)
    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16)  # opened | seen_again | recurred | status | owner | severity | notified
    note = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=dict, blank=True)  # {"field": [old, new]}

    class Meta:
        indexes = [models.Index(fields=["regression", "at"], name="regressionevent_at")]
