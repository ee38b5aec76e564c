"""Hourly rollups, each trace's contribution to them, and deploy markers.

A rollup row is one project, one UTC hour, one dimension value ("all" with value "" for the whole project;
"release", "model", "environment", "intent" = root span name). Each contribution is also added to its UTC
day's row (dim "d:<dim>", hour = midnight), so long ranges read days and only their ragged edges read hours. Its `data` maps a metric key to mergeable
accumulators (metrics.accumulators): [sum, count, sum of squares] for means and rates, a DDSketch's bins for
quantiles. Hours merge into days by adding accumulators, so a 90-day chart reads ~2,160 rows per series.

A trace's contribution is kept (TraceContribution) so a re-scored trace, a late span or a signal that arrives
later replaces what the trace added instead of adding it twice: the rollup worker subtracts the old and adds
the new in one transaction (idempotent).
"""

from django.db import models
from django.utils import timezone

DIMENSIONS = ("all", "release", "model", "environment", "intent")


class Rollup(models.Model):
    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()  # UTC, truncated to the hour
    dim = models.CharField(max_length=16)  # one of DIMENSIONS, or "d:" + one of them for a day's row
    value = models.CharField(max_length=200, blank=True)  # "" for dim "all"
    traces = models.IntegerField(default=0)
    # {metric key: [sum, count, sumsq]} or, for sketches, {metric key: {"bins": {key: count}, "n": count}}
    data = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "dim", "value", "hour"], name="rollup_unique"),
        ]
        indexes = [models.Index(fields=["project", "dim", "hour"], name="rollup_dim_hour")]


class TraceContribution(models.Model):
    """What one trace added to the rollups: its hour, its dimension values and its accumulators."""

    trace = models.OneToOneField("traces.Trace", on_delete=models.CASCADE, primary_key=True, related_name="+")
    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()
    dims = models.JSONField(default=dict)  # {"release": "2.4.1", "model": ["gpt-4o"], ...}
    data = models.JSONField(default=dict)  # the same shape as Rollup.data, for this trace alone
    user_id = models.CharField(max_length=200, blank=True)
    cost = models.FloatField(default=0.0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["project", "hour"], name="contribution_hour")]


class RollupPending(models.Model):
    """Traces whose contribution must be computed again (a judge score, a signal or a feedback arrived after
    the pipeline ran). Drained in batches by beat (metrics.rollup_pending); inserting twice is a no-op."""

    trace = models.OneToOneField("traces.Trace", on_delete=models.CASCADE, primary_key=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)


class UserCost(models.Model):
    """Cost per user per hour (the per-user cost monitor and cost per user); kept like rollups, 12 months."""

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()
    user_id = models.CharField(max_length=200)
    cost = models.FloatField(default=0.0)
    traces = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "hour", "user_id"], name="usercost_unique")]
        indexes = [models.Index(fields=["project", "user_id", "hour"], name="usercost_user")]


class Deploy(models.Model):
    """A deploy marker: posted by a pipeline (POST /api/v1/deploys) or seen as a new service.version."""

    class Source(models.TextChoices):
        API = "api"
        TRACES = "traces"  # the first trace seen with this service.version

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="deploys")
    version = models.CharField(max_length=100)
    environment = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    commit = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "version", "environment"], name="deploy_unique_version")
        ]
        indexes = [models.Index(fields=["project", "-at"], name="deploy_recent")]
