from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from peekr_web.schemas import Error as Error  # the one error body, re-exported for annotations.api
from peekr_web.schemas import Id, SafeStr


class QueueIn(Schema):
    name: SafeStr
    description: SafeStr = ""
    score_configs: list[dict[str, Any]] = Field(
        default_factory=list,
        description='[{"name": "correct", "type": "boolean"}, {"name": "tone", "type": "categorical", "options": '
        '[...]}, {"name": "quality", "type": "numeric", "min": 1, "max": 5}]',
    )
    reviews_per_item: int = Field(1, ge=1, le=20)
    claim_seconds: int = Field(300, ge=10, le=86_400)


class QueueOut(Schema):
    id: int
    name: str
    description: str
    score_configs: list[dict[str, Any]]
    reviews_per_item: int
    claim_seconds: int
    created_at: datetime
    total: int = 0
    pending: int = 0
    claimed: int = 0
    completed: int = 0
    skipped: int = 0


class QueueDetailOut(QueueOut):
    reviewers: list[dict[str, Any]] = Field(default_factory=list, description="reviews per reviewer")


class RoutingRuleIn(Schema):
    kind: Literal[
        "failing_rule", "score_below", "score_band", "thumbs_down", "escalation", "finding", "sample", "signal"
    ]
    params: dict[str, Any] = Field(
        default_factory=dict, description='{"evaluator", "threshold"} / {"evaluator", "low", "high"} / {"rate"}'
    )
    active: bool = True


class RoutingRuleOut(Schema):
    id: int
    kind: str
    params: dict[str, Any]
    active: bool


class ItemsAddIn(Schema):
    trace_ids: list[SafeStr] = Field(..., min_length=1, max_length=1000)
    reason: SafeStr = "manual"


class ItemOut(Schema):
    id: int
    queue_id: int
    trace_id: str
    span_id: str | None
    reason: str
    status: str
    claimed_by: str | None
    claim_expires_at: datetime | None
    reviews_done: int
    created_at: datetime
    completed_at: datetime | None


class ItemsAddOut(Schema):
    added: int
    items: list[ItemOut]


class ReviewerIn(Schema):
    reviewer: SafeStr = Field(
        "",
        description="optional: the personal token's own username (anything else answers 403); the token's "
        "user is the reviewer",
    )


class AnnotationIn(ReviewerIn):
    labels: list[SafeStr] = Field(default_factory=list)
    values: dict[str, Any] = Field(default_factory=dict)
    comment: SafeStr = ""
    expected_output: SafeStr = ""


class AnnotationOut(Schema):
    id: int
    item_id: int
    reviewer: str
    labels: list[str]
    values: dict[str, Any]
    comment: str
    expected_output: str
    created_at: datetime
    item_status: str
    reviews_done: int


class TaxonomyIn(Schema):
    labels: list[SafeStr]


class TaxonomyOut(Schema):
    labels: list[str]


class GoldenSetIn(Schema):
    name: SafeStr
    description: SafeStr = ""


class GoldenSetOut(Schema):
    id: int
    name: str
    description: str
    created_at: datetime
    latest_version: int | None
    items: int
    added_last_quarter: int = 0


class PromoteIn(Schema):
    item_ids: list[Id] = Field(default_factory=list)
    trace_ids: list[SafeStr] = Field(default_factory=list)
    graders: list[dict[str, Any]] | None = Field(None, description="default: derived from the failure labels")
    group: bool = Field(True, description="promote one representative per failure pattern")
    note: SafeStr = ""


class GoldenItemOut(Schema):
    case_id: str
    source_trace_id: str
    input_messages: list[dict[str, Any]]
    input_text: str
    context: list[Any]
    tool_calls: list[dict[str, Any]]
    model: str
    prompt_version: str
    bad_output: str
    expected_output: str
    labels: list[str]
    graders: list[dict[str, Any]]
    added_at: datetime


class VersionOut(Schema):
    number: int
    note: str
    created_at: datetime
    items_count: int


class VersionDetailOut(VersionOut):
    items: list[GoldenItemOut]


class PromoteOut(Schema):
    version: VersionOut | None = Field(None, description="null when nothing new was promoted")


class RunOut(Schema):
    id: int
    golden_set: str
    version: int
    name: str
    target: str
    model: str
    status: str
    summary: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None


class ResultOut(Schema):
    case_id: str
    output: str
    passed: bool
    grader_results: list[dict[str, Any]]
    latency_ms: float | None
    error: str


class RunDetailOut(RunOut):
    results: list[ResultOut]


class CalibrationOut(Schema):
    evaluator: str
    kind: str
    human_verdict_from: str
    n: int
    agreement: float | None
    kappa: float | None = Field(description="Cohen's kappa; null below the minimum sample (enough_items false)")
    enough_items: bool = Field(description="at least annotations.calibration.KAPPA_MIN_ITEMS reviewed items")
    confusion: list[list[int]] = Field(description="rows: evaluator fail/pass; columns: human fail/pass")
    gate_eligible: bool
    status: str
    threshold: float | None


class TriageRowOut(Schema):
    trace_id: str
    name: str
    start_time: datetime
    mean_score: float
    scores: int
    failed: int
    queue_ids: list[int]


class TriageOut(Schema):
    traces: list[TriageRowOut]
    queues: list[dict[str, Any]]
    golden_sets: list[dict[str, Any]]
