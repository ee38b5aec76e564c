from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema

from peekr_web.schemas import Integer, Number, SafeStr, UtcDatetime

Kind = Literal[
    "thumbs_up", "thumbs_down", "rating", "comment", "escalation", "task_completed", "edit", "rephrase", "abandonment"
]
Action = Literal["judge", "review", "golden", "baseline"]


class SignalQuery(Schema):
    kind: Kind | None = None
    trace_id: SafeStr = ""
    session_id: SafeStr = ""
    user_id: SafeStr = ""
    since: UtcDatetime | None = None
    until: UtcDatetime | None = None
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=10**9)


class SignalOut(Schema):
    id: int
    kind: str
    value: float | None
    source: str
    trace_id: str
    session_id: str
    user_id: str
    evidence: dict[str, Any]
    created_at: datetime


class SignalPage(Schema):
    count: int = Field(description="signals matching the filters")
    counts: dict[str, int] = Field(description="signals matching the filters (kind aside), per kind")
    items: list[SignalOut]


class PolicyIn(Schema):
    actions: dict[Kind, list[Action]] | None = Field(
        None, description="signal kind -> actions; kinds left out keep theirs"
    )
    rephrase_window_seconds: Integer | None = None
    rephrase_threshold: Number | None = Field(None, description="rapidfuzz token_set_ratio, 0-100")
    abandonment_quiet_seconds: Integer | None = None
    escalation_patterns: list[SafeStr] | None = Field(None, description="fnmatch patterns on span and tool names")


class PolicyOut(Schema):
    actions: dict[str, list[str]]
    rephrase_window_seconds: int
    rephrase_threshold: float
    abandonment_quiet_seconds: int
    escalation_patterns: list[str]
