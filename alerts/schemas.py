from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from peekr_web.schemas import Error as Error  # the one error body, re-exported for alerts.api
from peekr_web.schemas import Id, Integer, Number, SafeStr


class MonitorIn(Schema):
    name: SafeStr = Field(max_length=100)
    kind: Literal["metric", "user_cost"] = "metric"
    metric: SafeStr = Field("", max_length=120, description="a metric key: cost_per_trace, score:<evaluator>...")
    filter: dict[SafeStr, SafeStr] = Field(
        default_factory=dict, description='{} or one dimension: {"release": "2.4.1"}'
    )
    direction: Literal["down", "up"] | None = Field(None, description="the way that is bad; default from the metric")
    runbook_url: SafeStr = Field("", max_length=2000)
    owners: list[SafeStr] = Field(default_factory=list, description="usernames of project members")
    channels: list[Id] = Field(default_factory=list)
    review_sigma: Number = Field(3.0, description="review past this many baseline spreads")
    page_sigma: Number = Field(5.0, description="page past this many spreads, sustained")
    sustain_count: Integer = Field(3, description="consecutive page-band evaluations before a page")
    min_sample: Integer = Field(30, description="items needed in the 24 h window and in the baseline")
    factor: Number = Field(5.0, description="user_cost: times the user's own daily baseline")
    enabled: bool = True


class MonitorPatch(Schema):
    name: SafeStr | None = Field(None, max_length=100)
    metric: SafeStr | None = Field(None, max_length=120)
    filter: dict[SafeStr, SafeStr] | None = None
    direction: Literal["down", "up"] | None = None
    runbook_url: SafeStr | None = Field(None, max_length=2000)
    owners: list[SafeStr] | None = None
    channels: list[Id] | None = None
    review_sigma: Number | None = None
    page_sigma: Number | None = None
    sustain_count: Integer | None = None
    min_sample: Integer | None = None
    factor: Number | None = None
    enabled: bool | None = None


class MonitorState(Schema):
    verdict: str = Field(description="insufficient | pass | review | page, or '' before the first evaluation")
    consecutive: int
    evaluated_at: datetime | None
    value_24h: float | None
    baseline_7d: float | None
    sample_size: int
    z: float | None
    detail: str


class MonitorOut(Schema):
    id: int
    name: str
    kind: str
    metric: str
    filter: dict[str, str]
    direction: str
    runbook_url: str
    owners: list[str]
    channels: list[int]
    review_sigma: float
    page_sigma: float
    sustain_count: int
    min_sample: int
    factor: float
    enabled: bool
    is_builtin: bool
    state: MonitorState
    open_alert_id: int | None


class MonitorListOut(Schema):
    items: list[MonitorOut]


class AlertEventOut(Schema):
    at: datetime
    kind: str
    user: str | None
    note: str


class AlertOut(Schema):
    id: int
    monitor_id: int
    monitor_name: str
    state: Literal["firing", "acknowledged", "resolved"]
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    payload: dict[str, Any] = Field(description="the same payload every channel receives")
    events: list[AlertEventOut]


class AlertListOut(Schema):
    items: list[AlertOut]


class AlertQuery(Schema):
    state: Literal["open", "firing", "acknowledged", "resolved", "all"] = "all"
    monitor_id: Id | None = None
    limit: int = Field(50, ge=1, le=200)


class ChannelIn(Schema):
    name: SafeStr = Field(max_length=100)
    kind: Literal["webhook", "slack", "email"]
    url: SafeStr = Field("", max_length=2000)
    emails: list[SafeStr] = Field(default_factory=list)
    enabled: bool = True


class ChannelOut(Schema):
    id: int
    name: str
    kind: str
    url: str
    emails: list[str]
    enabled: bool
    secret: str | None = Field(description="webhook: the HMAC-SHA256 key of X-Peekr-Signature")


class ChannelListOut(Schema):
    items: list[ChannelOut]


class DeliveryOut(Schema):
    id: int
    channel_id: int
    alert_id: int | None
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    log: list[dict[str, Any]]
    created_at: datetime
    delivered_at: datetime | None
