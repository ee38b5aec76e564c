from django.conf import settings
from django.db import models
from django.utils import timezone

DEFAULT_LABELS = ["hallucination", "wrong tool call", "context loss", "PII leak", "refusal", "bad format", "other"]


class LabelTaxonomy(models.Model):
    """The project's failure labels (editable); defaults to DEFAULT_LABELS."""

    project = models.OneToOneField("traces.Project", on_delete=models.CASCADE, related_name="label_taxonomy")
    labels = models.JSONField(default=list)


class Queue(models.Model):
    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="queues")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # [{"name": "correct", "type": "boolean"} | {"name": "tone", "type": "categorical", "options": [...]} |
    #  {"name": "quality", "type": "numeric", "min": 1, "max": 5}]
    score_configs = models.JSONField(default=list, blank=True)
    reviews_per_item = models.PositiveSmallIntegerField(default=1)
    claim_seconds = models.PositiveIntegerField(default=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="queue_unique_name")]

    def __str__(self) -> str:
        return self.name


class RoutingRule(models.Model):
    """Puts traces into a queue automatically when they complete (and after their evaluation)."""

    class Kind(models.TextChoices):
        FAILING_RULE = "failing_rule"  # any rule evaluator failed
        SCORE_BELOW = "score_below"  # evaluator's value < threshold
        SCORE_BAND = "score_band"  # evaluator's value within [low, high] (borderline)
        THUMBS_DOWN = "thumbs_down"
        ESCALATION = "escalation"
        FINDING = "finding"  # an insight detector finding (optionally of one detector)
        SAMPLE = "sample"  # a random (hash-deterministic) share of normal traffic
        SIGNAL = "signal"  # a user signal the signals app's routing policy sends to review (optionally one kind)

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="routing_rules")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    params = models.JSONField(default=dict, blank=True)  # {"evaluator", "threshold", "low", "high", "detector", "rate"}
    active = models.BooleanField(default=True)


class QueueItem(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETED = "completed"
        SKIPPED = "skipped"

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="items")
    trace = models.ForeignKey("traces.Trace", on_delete=models.CASCADE, related_name="queue_items")
    # No database foreign key (spans are partitioned on PostgreSQL, traces 0013); the ORM cascades.
    span = models.ForeignKey(
        "traces.Span", on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_constraint=False
    )
    reason = models.CharField(max_length=300)  # why it was routed: "manual", "failing rule pii", ...
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    reviews_done = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["queue", "trace"], name="queueitem_unique_trace")]
        indexes = [models.Index(fields=["queue", "status", "created_at"], name="queueitem_next")]


class Annotation(models.Model):
    item = models.ForeignKey(QueueItem, on_delete=models.CASCADE, related_name="annotations")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    labels = models.JSONField(default=list, blank=True)  # failure labels from the taxonomy
    values = models.JSONField(default=dict, blank=True)  # score config name -> value
    comment = models.TextField(blank=True)
    expected_output = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "reviewer"], name="annotation_one_per_reviewer")]


class GoldenSet(models.Model):
    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="golden_sets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="goldenset_unique_name")]


class GoldenSetVersion(models.Model):
    """Immutable once written: every change to a set writes a new version with all of its items."""

    golden_set = models.ForeignKey(GoldenSet, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Who wrote it (a promotion, an import, a removal): the person, and a label that outlives them or names the key.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["golden_set", "number"], name="goldenversion_unique")]


class GoldenItem(models.Model):
    """Everything needed to replay one case, copied (not referenced) so later changes cannot alter it."""

    version = models.ForeignKey(GoldenSetVersion, on_delete=models.CASCADE, related_name="items")
    case_id = models.CharField(max_length=64)  # stable across versions
    source_trace_id = models.CharField(max_length=32, blank=True)
    input_messages = models.JSONField(default=list)
    input_text = models.TextField(blank=True)
    context = models.JSONField(default=list)  # retrieved documents
    tool_calls = models.JSONField(default=list)  # [{"name", "arguments", "result"}]
    model = models.CharField(max_length=200, blank=True)
    prompt_version = models.CharField(max_length=100, blank=True)
    bad_output = models.TextField(blank=True)
    expected_output = models.TextField(blank=True)
    labels = models.JSONField(default=list)
    graders = models.JSONField(
        default=list
    )  # [{"type": "tool_allowed", "allowed": [...]}, {"type": "faithfulness"}, ...]
    added_at = models.DateTimeField(default=timezone.now)  # when the case first entered the set

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "case_id"], name="goldenitem_unique_case")]

    def as_case(self) -> dict:
        """The case as plain data: what exports, replays and copies into the next version carry."""
        return {f: getattr(self, f) for f in CASE_FIELDS}


CASE_FIELDS = (
    "case_id",
    "source_trace_id",
    "input_messages",
    "input_text",
    "context",
    "tool_calls",
    "model",
    "prompt_version",
    "bad_output",
    "expected_output",
    "labels",
    "graders",
    "added_at",
)


class RegressionRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        PASSED = "passed"
        FAILED = "failed"
        ERROR = "error"

    version = models.ForeignKey(GoldenSetVersion, on_delete=models.PROTECT, related_name="runs")
    name = models.CharField(max_length=200, blank=True)  # e.g. the CI job; shown next to the run
    target = models.CharField(max_length=500)
    model = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    summary = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)


class RegressionResult(models.Model):
    run = models.ForeignKey(RegressionRun, on_delete=models.CASCADE, related_name="results")
    item = models.ForeignKey(GoldenItem, on_delete=models.PROTECT, related_name="+")
    output = models.TextField(blank=True)
    passed = models.BooleanField()
    grader_results = models.JSONField(default=list)  # [{"grader", "passed", "value", "reason"}]
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)  # the candidate could not be reached or answered nonsense

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "item"], name="regressionresult_unique_item")]
