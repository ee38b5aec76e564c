from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field


class EvalRuleIn(Schema):
    name: str
    evaluators: list[str]
    filter: dict[str, Any] = Field(
        default_factory=dict, description='e.g. {"kind": "llm", "name": "chat*", "model": "gpt-4o*"}'
    )
    target: Literal["span", "trace"] = "span"
    sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    triggers: list[str] = Field(default_factory=list, description="evaluate regardless of sampling when these fire")
    judge_base_url: str = ""
    judge_model: str = ""
    daily_cost_cap: float | None = Field(None, description="USD per UTC day for this rule's judges")
    config: dict[str, Any] = Field(default_factory=dict, description="allowed_tools, json_schemas, rubric, ...")


class EvalRulePatch(Schema):
    name: str | None = None
    evaluators: list[str] | None = None
    filter: dict[str, Any] | None = None
    target: Literal["span", "trace"] | None = None
    sample_rate: float | None = Field(None, ge=0.0, le=1.0)
    triggers: list[str] | None = None
    judge_base_url: str | None = None
    judge_model: str | None = None
    daily_cost_cap: float | None = None
    config: dict[str, Any] | None = None
    status: Literal["active", "paused"] | None = None


class EvalRuleOut(Schema):
    id: int
    name: str
    evaluators: list[str]
    filter: dict[str, Any]
    target: str
    sample_rate: float
    triggers: list[str]
    judge_base_url: str
    judge_model: str
    daily_cost_cap: float | None
    config: dict[str, Any]
    status: str
    paused_reason: str
    is_builtin: bool
    judge_missing: str
    created_at: datetime


class FeedbackIn(Schema):
    trace_id: str
    kind: Literal["thumbs_up", "thumbs_down", "comment", "edit", "copy", "escalation"]
    comment: str = ""
    edited_output: str = ""
    user_id: str = ""


class FeedbackOut(Schema):
    id: int
    trace_id: str
    kind: str
    created_at: datetime


class GuardIn(Schema):
    output: str
    input: str = ""
    context: list[str] = Field(default_factory=list)
    tool_name: str = ""
    span_name: str = ""


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
    updated_at: datetime


class Error(Schema):
    detail: str
