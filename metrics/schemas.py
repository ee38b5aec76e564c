from datetime import datetime

from ninja import Schema
from pydantic import Field

from peekr_web.schemas import SafeStr, UtcDatetime


class DeployIn(Schema):
    version: SafeStr = Field(description="the service.version the deploy ships, e.g. 2.4.1")
    environment: SafeStr = Field("", description="e.g. production; one deploy per version and environment")
    description: SafeStr = ""
    commit: SafeStr = Field("", description="a git SHA")
    time: UtcDatetime | None = Field(None, description="when it went out (ISO 8601); default: now")


class DeployOut(Schema):
    id: int
    version: str
    environment: str
    description: str
    commit: str
    time: datetime
    source: str = Field(description='"api", or "traces": the first trace seen with this service.version')
