from django.db import models
from django.utils import timezone

TRIGGERS = (
    "error",  # a span in the trace failed
    "timeout",
    "tool_failure",
    "thumbs_down",  # user feedback on the trace
    "max_turns",
    "low_confidence",  # an SDK or judge score under 0.5 already on the trace
    "failing_rule",  # any rule evaluator failed on the trace
    "signal",  # a user signal the project's routing policy sends to the judge (signals app: rephrase, abandonment...)
)


class Mode(models.TextChoices):
    """What an evaluator's scores are used for (evals.modes). Shadow: stored and shown apart, never routed,
    alerted on, triggering or gating. Advisory: dashboards, monitors and routing, never gates. Blocking: gates
    too (peekr_regress, release verdicts)."""

    SHADOW = "shadow"
    ADVISORY = "advisory"
    BLOCKING = "blocking"


class JudgeConnection(models.Model):
    """A project's own judge endpoint: its URL and ITS key travel together; the operator's key never goes here.

    Registered by project owners and admins. The key is stored encrypted (evals.secrets) and never shown again,
    only its last four characters. Addresses that are not public (private, loopback, link-local...) are refused
    at registration and again at every connection, unless the operator allows them (PEEKR_JUDGE_ALLOW_PRIVATE).
    """

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="judge_connections")
    name = models.CharField(max_length=100)
    base_url = models.CharField(max_length=500)
    api_key_encrypted = models.TextField(blank=True)  # Fernet token; empty: the endpoint takes no key
    key_hint = models.CharField(max_length=8, blank=True)  # "…abcd", for people to tell keys apart
    created_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="judgeconnection_unique_name")]

    def __str__(self) -> str:
        return self.name


class EvalRule(models.Model):
    """An online evaluation rule: which spans (or traces), which evaluators, how often, at what cost."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"

    class Target(models.TextChoices):
        SPAN = "span"
        TRACE = "trace"

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="eval_rules")
    name = models.CharField(max_length=200)
    target = models.CharField(max_length=8, choices=Target.choices, default=Target.SPAN)
    # {"kind": "llm", "name": "chat*", "model": "gpt-4o*", "service": "...", "tags": ["rag"]}; empty = everything
    filter = models.JSONField(default=dict, blank=True)
    evaluators = models.JSONField(default=list)
    sample_rate = models.FloatField(default=1.0)
    triggers = models.JSONField(default=list, blank=True)  # subset of TRIGGERS: evaluate regardless of sampling
    # null: the operator's judge (PEEKR_JUDGE_BASE_URL with PEEKR_JUDGE_API_KEY); else the project's own endpoint
    judge_connection = models.ForeignKey(
        JudgeConnection, on_delete=models.PROTECT, null=True, blank=True, related_name="rules"
    )
    judge_model = models.CharField(max_length=200, blank=True)  # empty: PEEKR_JUDGE_MODEL
    daily_cost_cap = models.FloatField(null=True, blank=True)  # USD per UTC day; null = no cap
    config = models.JSONField(default=dict, blank=True)  # EvalConfig fields: allowed_tools, json_schemas, rubric...
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    paused_reason = models.TextField(blank=True)
    is_builtin = models.BooleanField(default=False)
    # The model's default is the built-in rules' (they route today); a rule created through the API or the UI
    # starts in shadow (evals.services.eval_rule_create). Changed only through evals.modes.rule_mode_set.
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.ADVISORY)
    evaluator_modes = models.JSONField(default=dict, blank=True)  # {evaluator: mode}: overrides the rule's mode
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="evalrule_unique_name")]

    def __str__(self) -> str:
        return self.name

    def mode_of(self, evaluator: str) -> str:
        """The mode of one of this rule's evaluators: its override, else the rule's."""
        return (self.evaluator_modes or {}).get(evaluator) or self.mode


class Score(models.Model):
    """One evaluator's result on one target. Exactly one per (target, evaluator, rubric version, judge model)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        ERROR = "error"
        SKIPPED = "skipped"

    class Source(models.TextChoices):
        RULE = "rule"
        JUDGE = "judge"
        HUMAN = "human"
        FEEDBACK = "feedback"
        SDK = "sdk"

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="+")
    trace = models.ForeignKey("traces.Trace", on_delete=models.CASCADE, related_name="scores")
    # No database foreign key: spans are partitioned by start time on PostgreSQL (traces 0013), and a key must
    # reference the whole partition key. The ORM still deletes a span's scores with it.
    span = models.ForeignKey(
        "traces.Span", on_delete=models.CASCADE, null=True, blank=True, related_name="scores", db_constraint=False
    )
    target_key = models.CharField(max_length=80)  # "span:<pk>" or "trace:<pk>": NULL-free for the unique key
    evaluator = models.CharField(max_length=100)
    rubric_version = models.CharField(max_length=100, default="1")
    judge_model = models.CharField(max_length=200, blank=True, default="")
    rule = models.ForeignKey(EvalRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="scores")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.RULE)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    value = models.FloatField(null=True, blank=True)
    label = models.CharField(max_length=200, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    explanation = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    raw_reply = models.TextField(blank=True)
    cost = models.FloatField(default=0.0)
    latency_ms = models.FloatField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    # The mode of its rule's evaluator WHEN it was scored (copied at write time: reads never join the rules).
    # Scores without a rule (feedback, SDK, human) are advisory.
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.ADVISORY)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["target_key", "evaluator", "rubric_version", "judge_model"], name="score_unique_target"
            )
        ]
        indexes = [
            models.Index(fields=["project", "evaluator", "status"], name="score_eval_status"),
            models.Index(fields=["rule", "created_at"], name="score_rule"),
            models.Index(fields=["trace"], name="score_trace"),
        ]

    def as_dict(self) -> dict:
        return {
            "evaluator": self.evaluator,
            "value": self.value,
            "passed": self.passed,
            "label": self.label,
            "status": self.status,
            "source": self.source,
            "judge_model": self.judge_model,
            "rubric_version": self.rubric_version,
            "explanation": self.explanation,
            "error": self.error,
            "details": self.details,
            "cost": self.cost,
            "mode": self.mode,
        }


class ModeChange(models.Model):
    """One change of a rule's (or one of its evaluators') mode: who, when, from what to what, and the
    evaluator's calibration against human reviews at that moment (what a blocking judge was promoted on)."""

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(EvalRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="mode_changes")
    rule_name = models.CharField(max_length=200)  # kept when the rule is deleted
    evaluator = models.CharField(max_length=100, blank=True)  # empty: the whole rule
    from_mode = models.CharField(max_length=8, blank=True)  # empty: the rule was created with to_mode
    to_mode = models.CharField(max_length=8, choices=Mode.choices)
    changed_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    actor = models.CharField(max_length=200, blank=True)  # "alice", "API key": who, even once the user is gone
    calibration_n = models.IntegerField(null=True, blank=True)  # judge evaluators: labelled items then
    calibration_agreement = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["rule", "created_at"], name="modechange_rule")]


class JudgeCacheEntry(models.Model):
    """A judge result keyed by a hash of (evaluator, version, judge model, inputs): identical inputs judged once."""

    key = models.CharField(max_length=64, unique=True)
    result = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)


class JudgeCall(models.Model):
    """The cost ledger: every call made to a judge endpoint."""

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(EvalRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="judge_calls")
    score = models.ForeignKey(Score, on_delete=models.SET_NULL, null=True, blank=True, related_name="judge_calls")
    model = models.CharField(max_length=200)
    input_tokens = models.IntegerField(default=0)
    output_tokens = models.IntegerField(default=0)
    cost = models.FloatField(default=0.0)
    latency_ms = models.FloatField(default=0.0)
    # A reservation made before the call (the estimate), replaced by the real calls once it answers; one left
    # behind (a worker killed mid-call) stays in the day's spend, so spend is never under-reported.
    estimated = models.BooleanField(default=False)
    day = models.DateField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["rule", "day"], name="judgecall_rule_day")]


class Feedback(models.Model):
    class Kind(models.TextChoices):
        THUMBS_UP = "thumbs_up"
        THUMBS_DOWN = "thumbs_down"
        COMMENT = "comment"
        EDIT = "edit"
        COPY = "copy"
        ESCALATION = "escalation"
        RATING = "rating"
        TASK_COMPLETED = "task_completed"

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="+")
    trace = models.ForeignKey("traces.Trace", on_delete=models.CASCADE, related_name="feedback")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    comment = models.TextField(blank=True)
    edited_output = models.TextField(blank=True)
    # rating: normalised 0-1 ((stars - 1) / 4); edit: normalised edit distance 0-1 to the model's answer
    value = models.FloatField(null=True, blank=True)
    user_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)


class Backfill(models.Model):
    """One run of a rule on existing traces (a time range and a trace filter), done by the worker in batches.

    Its scores are the live path's (evals.services.traces_evaluate_batch restricted to the rule): the same
    unique keys, so a trace scored live or by an earlier backfill is not scored twice. ``cursor`` is the last
    trace pk done (batches go in pk order); cancelling stops it before its next batch.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        CANCELLED = "cancelled"
        FAILED = "failed"

    project = models.ForeignKey("traces.Project", on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(EvalRule, on_delete=models.CASCADE, related_name="backfills")
    created_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    filters = models.JSONField(default=dict, blank=True)  # traces.selectors.TraceFilters fields, as strings
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.IntegerField(default=0)  # traces the range and filter matched when it was started
    done = models.IntegerField(default=0)
    judgements = models.IntegerField(default=0)  # judge evaluations it queued (they run on the judges queue)
    cursor = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["rule", "-created_at"], name="backfill_rule")]

    @property
    def active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if not self.active else 0
        return min(100, round(self.done * 100 / self.total))

    def eta_seconds(self, now=None) -> float | None:
        """Seconds left at the pace so far; None before the first batch or once finished."""
        if not self.active or not self.started_at or not self.done or self.done >= self.total:
            return None
        elapsed = ((now or timezone.now()) - self.started_at).total_seconds()
        return elapsed / self.done * (self.total - self.done)

    @property
    def eta(self) -> str:
        seconds = self.eta_seconds()
        if seconds is None:
            return ""
        if seconds < 60:
            return f"about {max(1, round(seconds))} s left"
        return f"about {round(seconds / 60)} min left"
