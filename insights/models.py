"""Findings (one detector result on one trace) and the Insights they aggregate into, by a stable signature.

A Finding is unique per (trace, signature): re-running detection on a trace updates its rows instead of adding
new ones. When one trace yields several findings of the same signature (two separate sequential groups under
the same parent, say), ``insights.services`` merges them into one row: span ids joined, savings added, messages
kept one after the other, the others' details under ``details["merged"]``. An Insight is unique per
(project, signature); its counters are kept up to date incrementally by the services, never recomputed per trace.
"""

from django.db import models
from django.utils import timezone


class Severity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Insight(models.Model):
    """A pathology seen across traces: one detector on one (operation, parent operation, service)."""

    class Status(models.TextChoices):
        OPEN = "open"
        DISMISSED = "dismissed"
        FIXED = "fixed"
        REGRESSED = "regressed"  # marked fixed, then seen again in a trace that started after fixed_at

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="insights")
    signature = models.CharField(max_length=32)  # insights.detectors.signature(...)
    detector = models.CharField(max_length=50)
    operation = models.CharField(max_length=500)
    parent_operation = models.CharField(max_length=500, blank=True)
    service = models.CharField(max_length=200, blank=True)
    # The latest finding's wording (findings of one signature read alike; their figures differ).
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.WARNING)
    title = models.CharField(max_length=500)
    message = models.TextField(blank=True)
    fix = models.JSONField(default=dict, blank=True)  # {"summary", "snippets": [{"label", "before", "after"}]}
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    count = models.IntegerField(default=0)  # traces with this finding
    first_seen = models.DateTimeField(null=True, blank=True)  # start time of the earliest such trace
    last_seen = models.DateTimeField(null=True, blank=True)
    total_saving_ms = models.FloatField(default=0.0)
    total_saving_usd = models.FloatField(default=0.0)
    endpoints = models.JSONField(default=list, blank=True)  # root operations of the traces, first MAX_ENDPOINTS
    # The newest MAX_EXAMPLES traces with the finding: [{"trace_id", "seen_at" (ISO), "saving_ms", "saving_usd"}],
    # kept here so the ranked list links to them without reading the findings.
    examples = models.JSONField(default=list, blank=True)
    fixed_at = models.DateTimeField(null=True, blank=True)
    regressed_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    MAX_ENDPOINTS = 20
    MAX_EXAMPLES = 3

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "signature"], name="insight_unique_signature")]
        indexes = [
            # The Insights tab: a project's insights of a status, most recently seen first (ranking then adds the
            # window's savings from Finding, grouped by insight).
            models.Index(fields=["project", "status", "-last_seen"], name="insight_rank"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.REGRESSED)


class Finding(models.Model):
    """One detector result on one trace."""

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="+")
    trace = models.ForeignKey("traces.Trace", on_delete=models.CASCADE, related_name="findings")
    insight = models.ForeignKey(Insight, on_delete=models.CASCADE, related_name="findings")
    signature = models.CharField(max_length=32)
    detector = models.CharField(max_length=50)
    severity = models.CharField(max_length=8, choices=Severity.choices, default=Severity.WARNING)
    title = models.CharField(max_length=500)
    message = models.TextField()
    span_ids = models.JSONField(default=list)
    operation = models.CharField(max_length=500)
    parent_operation = models.CharField(max_length=500, blank=True)
    service = models.CharField(max_length=200, blank=True)
    endpoint = models.CharField(max_length=500, blank=True)  # the trace root's operation
    saving_ms = models.FloatField(default=0.0)
    saving_usd = models.FloatField(default=0.0)
    fix = models.JSONField(default=dict, blank=True)
    details = models.JSONField(default=dict, blank=True)
    seen_at = models.DateTimeField()  # the trace's start: windows and regressions are about when it happened
    # A hash of the columns above: a re-run compares it instead of reading back every message, fix and detail.
    digest = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trace", "signature"], name="finding_unique_trace_signature")]
        indexes = [
            # Ranking over a window: the grouped sums read the index alone (findings are wide: message, fix).
            models.Index(fields=["project", "seen_at", "insight", "saving_ms", "saving_usd"], name="finding_window"),
            models.Index(fields=["insight", "-seen_at"], name="finding_insight"),  # an insight's example traces
        ]

    def __str__(self) -> str:
        return self.title
