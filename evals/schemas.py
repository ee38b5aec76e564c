from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from peekr_web.schemas import Error as Error  # the one error body, re-exported for evals.api
from peekr_web.schemas import Id, SafeStr


class EvalRuleIn(Schema):
    name: SafeStr
    evaluators: list[SafeStr]
    filter: dict[str, Any] = Field(
        default_factory=dict, description='e.g. {"kind": "llm", "name": "chat*", "model": "gpt-4o*"}'
    )
    target: Literal["span", "trace"] = "span"
    sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    triggers: list[SafeStr] = Field(default_factory=list, description="evaluate regardless of sampling when these fire")
    judge_connection_id: Id | None = Field(
        None, description="the project's own judge endpoint (GET /judge-connections); null: the operator's judge"
    )
    judge_base_url: SafeStr = Field("", description="not accepted any more: register a judge connection instead")
    judge_model: SafeStr = ""
    daily_cost_cap: float | None = Field(None, ge=0.0, description="USD per UTC day for this rule's judges")
    config: dict[str, Any] = Field(default_factory=dict, description="allowed_tools, json_schemas, rubric, ...")
    mode: Literal["shadow", "advisory", "blocking"] = Field(
        "shadow",
        description="shadow (default): scored and shown apart, never routed, alerted on or gated; "
        "advisory: dashboards, monitors and routing; blocking: gates too (a judge must be calibrated: 409)",
    )
    evaluator_modes: dict[str, Literal["shadow", "advisory", "blocking"]] = Field(
        default_factory=dict, description='per-evaluator overrides of mode, e.g. {"json_valid": "blocking"}'
    )


class EvalRulePatch(Schema):
    """Only the fields sent change. null is a value only where it means something (the operator's judge, no cost
    cap); elsewhere it is refused (422): leave the field out to keep it."""

    name: SafeStr = None
    evaluators: list[SafeStr] = None
    filter: dict[str, Any] = None
    target: Literal["span", "trace"] = None
    sample_rate: float = Field(None, ge=0.0, le=1.0)
    triggers: list[SafeStr] = None
    judge_connection_id: Id | None = Field(None, description="null: the operator's judge")
    judge_base_url: SafeStr = Field(None, description="not accepted any more: use judge_connection_id")
    judge_model: SafeStr = None
    daily_cost_cap: float | None = Field(None, ge=0.0, description="null: no cap")
    config: dict[str, Any] = None
    status: Literal["active", "paused"] = None
    mode: SafeStr = Field(None, description="refused here (400): a mode changes through POST /eval-rules/{id}/mode")
    evaluator_modes: dict[str, Any] = Field(None, description="refused here (400): POST /eval-rules/{id}/mode")


class ModeIn(Schema):
    mode: Literal["shadow", "advisory", "blocking"]
    evaluator: SafeStr = Field("", description="one of the rule's evaluators; empty: the rule's own mode")
    by: SafeStr = Field("", description="the project member making the change (recorded); empty: the API key")


class ModeChangeOut(Schema):
    id: int
    rule_id: int | None
    rule_name: str
    evaluator: str = Field(description="empty: the rule's own mode")
    from_mode: str = Field(description="empty: the rule was created with to_mode")
    to_mode: str
    by: str
    calibration_n: int | None = Field(description="judges: labelled items when the change was made")
    calibration_agreement: float | None
    created_at: datetime


class EvalRuleOut(Schema):
    id: int
    name: str
    evaluators: list[str]
    filter: dict[str, Any]
    target: str
    sample_rate: float
    triggers: list[str]
    judge_connection_id: int | None
    judge_base_url: str = Field(description="the judge connection's URL; empty: the operator's judge")
    judge_model: str
    daily_cost_cap: float | None
    config: dict[str, Any]
    status: str
    paused_reason: str
    is_builtin: bool
    judge_missing: str
    mode: str
    evaluator_modes: dict[str, str] = Field(description="overrides of mode by evaluator")
    modes: dict[str, str] = Field(description="every evaluator's effective mode")
    created_at: datetime


class FeedbackIn(Schema):
    trace_id: SafeStr
    kind: Literal["thumbs_up", "thumbs_down", "comment", "edit", "copy", "escalation", "rating", "task_completed"]
    value: float | None = Field(None, description="rating only: 1 to 5 stars, stored normalised to 0-1")
    comment: SafeStr = ""
    edited_output: SafeStr = ""
    user_id: SafeStr = ""


class FeedbackOut(Schema):
    id: int
    trace_id: str
    kind: str
    value: float | None = None  # rating normalised 0-1; edit: normalised edit distance to the model's answer
    created_at: datetime


class GuardIn(Schema):
    output: SafeStr
    input: SafeStr = ""
    context: list[SafeStr] = Field(default_factory=list)
    tool_name: SafeStr = ""
    span_name: SafeStr = ""


class GuardOut(Schema):
    action: Literal["pass", "block"]
    reasons: list[str]
    results: dict[str, Any]


class ScoreOut(Schema):
    id: int
    trace_id: str
    span_id: str | None
    evaluator: str
    status: str
    value: float | None
    passed: bool | None
    error: str
    attempts: int
    mode: str = Field(description="the mode of its rule's evaluator when it was scored; shadow scores never count")
    updated_at: datetime


class JudgeConnectionOut(Schema):
    id: int
    name: str
    base_url: str
    key_hint: str = Field(description="the last characters of the key; the key itself is never shown again")
    created_at: datetime
