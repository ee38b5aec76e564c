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
    # Off (the default): a reviewer sees traces only through the review queues (traces.access).
    reviewers_see_explorer = models.BooleanField(default=False)

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


class KeyScope(models.TextChoices):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"


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
    # What the key may do (traces.access.KEY_SCOPES); new keys only send data.
    scope = models.CharField(max_length=8, choices=KeyScope.choices, default=KeyScope.INGEST)
    last_used_at = models.DateTimeField(null=True, blank=True)  # written at most once a minute

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
    # deployment.environment[.name] of a span's resource, or langfuse.environment (traces.services.traces_refresh)
    environment = models.CharField(max_length=100, blank=True)
    # The trace's tags (tag.tags, langfuse.trace.tags) as "|a|b|": equals / starts-with / contains are LIKE on
    # both databases, no JSON operator needed (a "|" inside a tag becomes "/").
    tags = models.CharField(max_length=500, blank=True)
    models_used = models.CharField(max_length=500, blank=True)  # space-separated distinct models
    input_preview = models.CharField(max_length=300, blank=True)
    output_preview = models.CharField(max_length=300, blank=True)
    is_internal = models.BooleanField(default=False)  # every span is Peekr's own (judge calls)
    # "shadow": a candidate's answer to a copy of a real request (peekr.traffic=shadow or deployment.environment
    # "shadow" on any span): evaluated, never routed to review, rolled up apart from what users see.
    traffic = models.CharField(max_length=10, default="production")  # production | shadow
    request_key = models.CharField(max_length=200, blank=True)  # peekr.request_key: pairs shadow and production
    last_span_at = models.DateTimeField(default=timezone.now)
    end_marker = models.BooleanField(default=False)  # a span said the trace is over: no quiet period to wait
    completed_at = models.DateTimeField(null=True, blank=True)
    # The after-completion pipeline (traces.pipeline): one bit per stage that ran on this completion (rules,
    # detectors, routing...), processed_at once every stage has; both reset when a late span reopens the trace.
    stages_done = models.SmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    pipeline_attempts = models.SmallIntegerField(default=0)  # sweeps that had to re-run it
    # Retention (traces.retention_run): when its span content was removed; the trace page then shows its
    # structure, timings, scores and findings with "content expired on ...".
    content_expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "trace_id"], name="trace_unique")]
        indexes = [
            models.Index(fields=["project", "-start_time", "-id"], name="trace_list"),
            models.Index(fields=["project", "session_id", "start_time"], name="trace_session"),
            models.Index(fields=["project", "user_id", "-start_time"], name="trace_user"),
            models.Index(fields=["completed_at", "last_span_at"], name="trace_settle"),
            models.Index(
                fields=["project", "request_key"], name="trace_request_key", condition=~models.Q(request_key="")
            ),
            # Only completed traces a stage has not processed yet: small however many traces there are.
            models.Index(
                fields=["completed_at"],
                name="trace_unprocessed",
                condition=models.Q(completed_at__isnull=False, processed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.trace_id}"

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split("|") if t]


class Span(models.Model):
    # Neither foreign key gets an index of its own: span_unique (project, span_id, start_time) and span_trace (trace,
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
    traffic = models.CharField(max_length=10, blank=True)  # "shadow" or "" (see Trace.traffic)
    request_key = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=8, default="otlp")  # otlp | peekr
    conventions = models.JSONField(default=list, blank=True)
    sdk_scores = models.JSONField(default=list, blank=True)
    # Peekr's own scores, written back by evaluation; never touched by a re-send of the span.
    eval_scores = models.JSONField(default=list, blank=True)
    # What normalisation did not consume (traces.lean): read the attributes and events as sent through
    # traces.lean.raw_attributes / raw_events, which rebuild the rest from the normalised fields and `lean`.
    attributes = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list, blank=True)
    lean = models.JSONField(null=True, blank=True)  # traces.lean's record of what was taken; null: nothing
    resource = models.JSONField(default=dict, blank=True)
    scope = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # What redaction at ingest replaced in this span, by kind ({"email": 2}); traces.privacy.
    redactions = models.JSONField(default=dict, blank=True)
    # Set by the PostgreSQL upsert when a re-sent span id arrives under another trace: the trace it left, so that
    # trace's aggregates are recomputed too (returned by the same statement; NULL otherwise).
    moved_from = models.BigIntegerField(null=True, blank=True)

    class Meta:
        # start_time is in the key because on PostgreSQL the table is partitioned by it (migration 0013), and a
        # unique key there must hold the partition key. A span id re-sent with another start time is made one row
        # again (traces.services._span_copies_merge).
        constraints = [models.UniqueConstraint(fields=["project", "span_id", "start_time"], name="span_unique")]
        indexes = [
            models.Index(fields=["trace", "start_time"], name="span_trace"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def content_expired_at(self):
        """When retention removed this span's content (traces.retention_run sets the marker), else None."""
        from datetime import datetime

        value = (self.attributes or {}).get("peekr.content_expired_at")
        try:
            return datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None


class SharedValue(models.Model):
    """A value that recurs across a project's spans (a tool schema, a request body's skeleton), stored once and
    named by its digest from Span.lean (traces.shared_values). Immutable: never updated."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    digest = models.CharField(max_length=16)  # traces.shared_values.digest of the value
    value = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "digest"], name="sharedvalue_unique")]


class SavedView(models.Model):
    """A user's named trace-list query (the list's query string, only the filters set), listed above the list."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, blank=True)  # "model=gpt-4o&sort=-cost", no leading "?"
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "project", "name"], name="savedview_unique")]

    def __str__(self) -> str:
        return self.name


class PrivacySettings(models.Model):
    """What ingest redacts in a project's spans before storing them (traces.redact, traces.privacy). Created with
    the project (project_create) and, for projects older than it, by migration: the safe defaults, on for all."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="privacy")
    # {kind: "keep" | "mask" | "tokenise"} for the kinds of traces.pii; a missing kind takes its default.
    actions = models.JSONField(default=dict, blank=True)
    custom_patterns = models.JSONField(default=list, blank=True)  # [{"name", "pattern", "action"}]
    drop_keys = models.JSONField(default=list, blank=True)  # attribute keys removed wherever they occur
    hash_user_id = models.BooleanField(default=True)
    hash_session_id = models.BooleanField(default=False)
    # The HMAC key of tokens and id hashes, Fernet-encrypted (traces.secrets): a database dump alone cannot
    # recompute a token from a guessed address. Never shown, never changed (tokens must stay stable).
    secret = models.TextField()
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"privacy of {self.project_id}"


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


class PersonalToken(models.Model):
    """A person's API token: it acts as its user, with the user's role in the project asked about."""

    PREFIX = "pt_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    display = models.CharField(max_length=16)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Invitation(models.Model):
    """A link that makes whoever opens it (logged in, or signing up through it) a member with this role."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ENGINEER)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


class AuditEvent(models.Model):
    """Who did what in a project: viewed raw content, changed privacy, retention, roles, keys, rules, monitors.
    Written by traces.audit.audit_record; the actor's label is copied so the row outlives the user or key."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="audit_events", db_index=False)
    at = models.DateTimeField(default=timezone.now)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    actor_label = models.CharField(max_length=200, blank=True)  # "alice", "alice (token laptop)", "key pk_abc..."
    action = models.CharField(max_length=64)  # "trace.view", "privacy.update", "member.role", ...
    target = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["project", "-id"], name="audit_list"),
            models.Index(fields=["project", "action", "-at"], name="audit_action"),
        ]


class RetentionPolicy(models.Model):
    """How long a project keeps what (traces.retention): span content, flagged traces whole, then the rest.
    A project without a row keeps the defaults (30 / 90 / 365 days)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="retention")
    content_days = models.PositiveSmallIntegerField(default=30)  # inputs, outputs, messages, attributes...
    flagged_days = models.PositiveSmallIntegerField(default=90)  # content of flagged traces
    record_days = models.PositiveSmallIntegerField(default=365)  # traces, spans' structure, scores, findings, rollups
    # How far each pass has been applied, {"content" | "flagged" | "class:short" ...: ISO time}: the next run
    # starts there, less a day for late spans (traces.retention_run).
    progress = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"retention of {self.project_id}"


class RetentionRun(models.Model):
    """One run of the retention job (manage.py peekr_retention, beat): what it removed, or would have."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField(default=False)
    now = models.DateTimeField()  # the clock the cutoffs were computed from
    status = models.CharField(max_length=8, default="running")  # running | done | failed
    # [{"project": id, "step": "content", "what": "...", "rows": n}, {"step": "partition", "what": name, ...}]
    removed = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["-started_at"], name="retentionrun_recent")]
