from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from peekr_web.schemas import Error as Error  # the one error body, re-exported for regressions.api
from peekr_web.schemas import SafeStr

SEVERITIES = "critical | high | medium | low"
STATUSES = "open | investigating | fixed | wont_fix"


class RegressionQuery(Schema):
    status: SafeStr = Field("", max_length=20, description=f"{STATUSES}, or active (open or investigating)")
    severity: SafeStr = Field("", max_length=10, description=SEVERITIES)
    release: SafeStr = Field("", max_length=100)
    source: Literal["", "verdict", "regress_run", "alert", "manual"] = ""
    owner: SafeStr = Field("", max_length=150, description="a member's username")
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


class RegressionIn(Schema):
    title: SafeStr = Field(min_length=1, max_length=300)
    severity: SafeStr = Field("medium", description=SEVERITIES)
    owner: SafeStr | None = Field(None, max_length=150, description="a member's username")
    release: SafeStr = Field("", max_length=100)
    evaluator: SafeStr = Field("", max_length=200, description="the evaluator or metric that regressed")
    trace_ids: list[SafeStr] = Field(default_factory=list, max_length=20, description="the worst examples")


class RegressionPatch(Schema):
    owner: SafeStr | None = Field(None, max_length=150, description='a member\'s username; "" or null unassigns')
    status: SafeStr | None = Field(None, max_length=20, description=f"{STATUSES}; fixed and won't fix reopen to open")
    severity: SafeStr | None = Field(None, max_length=10, description=SEVERITIES)
    title: SafeStr | None = Field(None, min_length=1, max_length=300)


class EventOut(Schema):
    at: datetime
    user: str | None
    kind: str = Field(description="opened | seen_again | recurred | notified | status | owner | severity | title")
    note: str
    changes: dict[str, Any]


class RegressionOut(Schema):
    id: int
    title: str
    severity: str
    status: str
    owner: str | None
    source: str = Field(description="verdict | regress_run | alert | manual")
    evaluator: str
    release: str
    baseline_release: str
    releases: list[str]
    alert_id: int | None
    regression_run_id: int | None
    source_url: str
    drop: float | None = Field(description="the size of the drop the severity was read from (a share)")
    details: dict[str, Any]
    trace_ids: list[str]
    occurrences: int
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime
    fixed_at: datetime | None
    url: str
    events: list[EventOut] | None = Field(None, description="the history (on a single regression only)")


class RegressionListOut(Schema):
    items: list[RegressionOut]
    total: int
    limit: int
    offset: int
