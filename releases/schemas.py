from datetime import datetime

from ninja import Schema
from pydantic import Field

from peekr_web.schemas import Error


class SideOut(Schema):
    version: str
    traffic: str = Field(description='"production" (dim release) or "shadow" (dim shadow_release)')
    traces: int
    share: float | None = Field(description="share of the project's production traces in the window (production)")


class RowOut(Schema):
    key: str = Field(description="metric key: score:<evaluator>, pass:<evaluator>, error_rate, latency_p95_ms, ...")
    label: str
    unit: str
    higher_is_better: bool
    baseline: float | None
    baseline_n: int
    candidate: float | None
    candidate_n: int
    delta: float | None = Field(description="candidate - baseline")
    blocking: bool


class CheckOut(Schema):
    evaluator: str
    kind: str = Field(description="deterministic (100 % must pass) or semantic (compared with the baseline)")
    threshold: float | None
    status: str = Field(description="pass, fail or not_enough_data")
    reason: str
    tests: list[dict]
    needed: dict | None = Field(description="not_enough_data: {side, items, traces, eta_minutes}")
    examples: list[dict] = Field(description="failed: the candidate's worst traces {trace_id, name, url}")


class VerdictOut(Schema):
    status: str = Field(description="pass, fail or not_enough_data")
    exit_code: int = Field(description="what peekr_canary exits with: 0 pass, 1 fail, 3 not enough data")
    reason: str
    checks: list[CheckOut]
    needed: dict | None
    alpha: float
    min_samples: int
    max_drop: float


class WindowOut(Schema):
    start: datetime
    end: datetime
    hours: float


class CompareOut(Schema):
    baseline: SideOut
    candidate: SideOut
    window: WindowOut
    project_traces: int
    rows: list[RowOut]
    verdict: VerdictOut


class UnknownVersionError(Error):
    versions: list[str] = Field(description="the versions that exist (production, shadow or deploys)")
