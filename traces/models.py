import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from traces.normalize.types import SPAN_KINDS


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # {pattern: {"input": usd_per_million, "output": usd_per_million}}; wins over the built-in table.
    price_overrides = models.JSONField(default=dict, blank=True)
    # Answered to the Peekr SDK's GET /v1/compliance: {"packs": [...], "rules": [...]}.
    compliance = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    ENGINEER = "engineer"
    REVIEWER = "reviewer"
    VIEWER = "viewer"


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ENGINEER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique")]

    @property
    def can_manage(self) -> bool:
        return self.role in (Role.OWNER, Role.ADMIN)


PUBLIC_PREFIX = "pk-lf-"  # what the Langfuse SDKs and their users expect a public key to look like


class ApiKey(models.Model):
    """An ingestion/API key. Only its SHA-256 is stored: keys are 256-bit random, so no slow hash is needed."""

    PREFIX = "pk_"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    key_hash = models.CharField(max_length=64, unique=True)
    display = models.CharField(max_length=16)  # first characters, to tell keys apart in the UI
    # The public half of a Langfuse-style key pair (Basic base64(public:secret), the secret being the key
    # itself). Not a secret: shown on the keys page, checked against the key only when a client sends it.
    public_key = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def generate_public() -> str:
        return PUBLIC_PREFIX + secrets.token_hex(16)

    def public_matches(self, public_key: str) -> bool:
        return bool(self.public_key) and secrets.compare_digest(self.public_key.encode(), public_key.encode())

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Trace(models.Model):
    """One trace with the aggregates lists need, so they never scan spans."""

    # No index of its own: trace_unique (project, trace_id) and trace_list lead with it; one index fewer to
    # maintain on every ingested batch.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="traces", db_index=False)
    trace_id = models.CharField(max_length=32)  # lowercase hex
    name = models.CharField(max_length=500, blank=True)  # the root span's name
    root_span_id = models.CharField(max_length=32, blank=True)
    start_time = models.DateTimeField(db_index=False)
    end_time = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    span_count = models.IntegerField(default=0)
    error_count = models.IntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost = models.FloatField(default=0.0)  # USD
    status = models.CharField(max_length=8, default="ok")  # ok | error
    root_ended = models.BooleanField(default=False)
    session_id = models.CharField(max_length=200, blank=True)
    user_id = models.CharField(max_length=200, blank=True)
    service_name = models.CharField(max_length=200, blank=True)
    release = models.CharField(max_length=100, blank=True)
    models_used = models.CharField(max_length=500, blank=True)  # space-separated distinct models
    input_preview = models.CharField(max_length=300, blank=True)
    output_preview = models.CharField(max_length=300, blank=True)
    is_internal = models.BooleanField(default=False)  # every span is Peekr's own (judge calls)
    last_span_at = models.DateTimeField(default=timezone.now)
    end_marker = models.BooleanField(default=False)  # a span said the trace is over: no quiet period to wait
    completed_at = models.DateTimeField(null=True, blank=True)
    # The after-completion pipeline (traces.pipeline): one bit per stage that ran on this completion (rules,
    # detectors, routing...), processed_at once every stage has; both reset when a late span reopens the trace.
    stages_done = models.SmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    pipeline_attempts = models.SmallIntegerField(default=0)  # sweeps that had to re-run it

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "trace_id"], name="trace_unique")]
        indexes = [
            models.Index(fields=["project", "-start_time", "-id"], name="trace_list"),
            models.Index(fields=["project", "session_id", "start_time"], name="trace_session"),
            models.Index(fields=["project", "user_id", "-start_time"], name="trace_user"),
            models.Index(fields=["completed_at", "last_span_at"], name="trace_settle"),
            # Only completed traces a stage has not processed yet: small however many traces there are.
            models.Index(
                fields=["completed_at"],
                name="trace_unprocessed",
                condition=models.Q(completed_at__isnull=False, processed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.trace_id}"


class Span(models.Model):
    # Neither foreign key gets an index of its own: span_unique (project, span_id) and span_trace (trace,
    # start_time) lead with them. Every index is written for every span ingested.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="spans", db_index=False)
    span_id = models.CharField(max_length=32)
    parent_span_id = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=500)
    kind = models.CharField(max_length=16, choices=[(k, k) for k in SPAN_KINDS], default="span")
    otel_kind = models.SmallIntegerField(default=0)
    provider = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=200, blank=True)
    start_time = models.DateTimeField()
    end_time = models.DateTimeField(null=True, blank=True)  # null while the span is open
    duration_ms = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=8, default="unset")  # unset | ok | error
    error = models.TextField(blank=True)
    input_text = models.TextField(blank=True)
    output_text = models.TextField(blank=True)
    input_messages = models.JSONField(default=list, blank=True)
    output_messages = models.JSONField(default=list, blank=True)
    documents = models.JSONField(default=list, blank=True)
    tool_name = models.CharField(max_length=200, blank=True)
    tool_arguments = models.TextField(blank=True)
    tool_result = models.TextField(blank=True)
    input_tokens = models.IntegerField(null=True, blank=True)
    output_tokens = models.IntegerField(null=True, blank=True)
    total_tokens = models.IntegerField(null=True, blank=True)
    cost = models.FloatField(null=True, blank=True)
    ttft_ms = models.FloatField(null=True, blank=True)
    session_id = models.CharField(max_length=200, blank=True)
    user_id = models.CharField(max_length=200, blank=True)
    service_name = models.CharField(max_length=200, blank=True)
    release = models.CharField(max_length=100, blank=True)
    model_version = models.CharField(max_length=200, blank=True)
    prompt_version = models.CharField(max_length=100, blank=True)
    is_internal = models.BooleanField(default=False)
    source = models.CharField(max_length=8, default="otlp")  # otlp | peekr
    conventions = models.JSONField(default=list, blank=True)
    sdk_scores = models.JSONField(default=list, blank=True)
    # Peekr's own scores, written back by evaluation; never touched by a re-send of the span.
    eval_scores = models.JSONField(default=list, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list, blank=True)
    resource = models.JSONField(default=dict, blank=True)
    scope = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # Set by the PostgreSQL upsert when a re-sent span id arrives under another trace: the trace it left, so that
    # trace's aggregates are recomputed too (returned by the same statement; NULL otherwise).
    moved_from = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "span_id"], name="span_unique")]
        indexes = [
            models.Index(fields=["trace", "start_time"], name="span_trace"),
            models.Index(fields=["project", "model"], name="span_model"),
        ]

    def __str__(self) -> str:
        return self.name


class LogEvent(models.Model):
    """A GenAI message log record (OTLP logs) waiting for, or already merged into, its span."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=32)
    event_name = models.CharField(max_length=200)
    time_ns = models.BigIntegerField(default=0)
    attributes = models.JSONField(default=dict, blank=True)
    body = models.JSONField(null=True, blank=True)
    digest = models.CharField(max_length=40)  # of the record's content: a re-sent batch adds nothing
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "digest"], name="logevent_unique")]
        indexes = [models.Index(fields=["project", "span_id"], name="logevent_span")]


class PipelineSample(models.Model):
    """One minute's backlog of one pipeline stage (traces.pipeline_state): the Evaluations page charts the lag."""

    at = models.DateTimeField()  # truncated to the minute: a sample task run twice in a minute writes one row
    stage = models.CharField(max_length=32)
    waiting = models.IntegerField()
    oldest_seconds = models.FloatField(null=True, blank=True)  # None: nothing waiting

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stage", "at"], name="pipelinesample_unique")]
        indexes = [models.Index(fields=["at"], name="pipelinesample_at")]


class MetricPoint(models.Model):
    """One OTLP data point of a GenAI metric (gen_ai.*, llm.*), as sent: a cumulative point is kept cumulative
    and turned into per-interval figures when read (traces/metric_points.py)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="metric_points", db_index=False)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=24)  # gauge, sum, histogram, exponential_histogram, summary
    unit = models.CharField(max_length=32, blank=True)
    cumulative = models.BooleanField(default=False)
    model = models.CharField(max_length=200, blank=True)
    service_name = models.CharField(max_length=200, blank=True)
    token_type = models.CharField(max_length=16, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    series_key = models.CharField(max_length=40)
    start_time = models.DateTimeField(null=True, blank=True)
    time = models.DateTimeField()
    value = models.FloatField(null=True, blank=True)
    count = models.BigIntegerField(null=True, blank=True)
    sum = models.FloatField(null=True, blank=True)
    min = models.FloatField(null=True, blank=True)
    max = models.FloatField(null=True, blank=True)
    bucket_counts = models.JSONField(default=list, blank=True)
    bounds = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            # A retried export stores nothing twice.
            models.UniqueConstraint(fields=["project", "series_key", "time"], name="metric_point_unique")
        ]
        indexes = [models.Index(fields=["project", "name", "time"], name="metric_point_chart")]


class MetricTally(models.Model):
    """What a project's metric exports held, in all: points kept, and points of other metrics accepted and
    dropped (with the names last seen), so a user can tell why a metric they send is not charted."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="metric_tally")
    stored_points = models.BigIntegerField(default=0)
    dropped_points = models.BigIntegerField(default=0)
    dropped_names = models.JSONField(default=list, blank=True)  # up to 20, most recent first
    updated_at = models.DateTimeField(default=timezone.now)
