from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from peekr_web.schemas import Error as Error  # the one error body, re-exported for insights.api
from peekr_web.schemas import SafeStr


class FixSnippet(Schema):
    label: str = ""
    before: str = ""
    after: str = ""


class FixOut(Schema):
    summary: str = ""
    snippets: list[FixSnippet] = Field(default_factory=list)


class ExampleTrace(Schema):
    trace_id: str
    saving_ms: float
    saving_usd: float
    seen_at: datetime


class InsightOut(Schema):
    id: int
    signature: str
    detector: str
    severity: str
    status: Literal["open", "dismissed", "fixed", "regressed"]
    title: str
    message: str = Field(description="the latest finding's message")
    operation: str
    parent_operation: str
    service: str
    endpoints: list[str]
    count: int = Field(description="traces with this finding, all time")
    first_seen: datetime | None
    last_seen: datetime | None
    total_saving_ms: float
    total_saving_usd: float
    window_count: int = Field(description="traces with this finding in the window")
    saving_ms_per_day: float = Field(description="time the fix would save per day, over the window")
    saving_usd_per_day: float
    fixed_at: datetime | None
    regressed_at: datetime | None
    fix: FixOut | None
    examples: list[ExampleTrace] = Field(description="the newest traces with this finding")


class InsightListOut(Schema):
    items: list[InsightOut]
    total: int
    window: str
    days: float = Field(description="the days of data in the window that the savings were divided by")


class InsightQuery(Schema):
    window: Literal["24h", "7d", "30d"] = "7d"
    status: Literal["all", "active", "open", "regressed", "dismissed", "fixed"] = "all"
    detector: SafeStr = ""
    service: SafeStr = ""
    q: SafeStr = Field("", description="search in title, operation, service and message")
    sort: Literal["time", "money"] = "time"
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


class InsightPatch(Schema):
    status: Literal["open", "dismissed", "fixed"]


class FindingOut(Schema):
    id: int
    insight_id: int
    insight_status: str
    signature: str
    detector: str
    severity: str
    title: str
    message: str
    span_ids: list[str]
    operation: str
    parent_operation: str
    service: str
    endpoint: str
    saving_ms: float
    saving_usd: float
    fix: FixOut | None
    details: dict[str, Any]
    seen_at: datetime


class TraceInsightsOut(Schema):
    trace_id: str
    findings: list[FindingOut]
