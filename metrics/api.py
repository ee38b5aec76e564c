"""JSON API of metrics: deploy markers."""

from datetime import UTC, datetime

from ninja import Query, Router, Schema, Status
from pydantic import Field

from metrics import selectors, services
from metrics.models import Deploy
from metrics.schemas import DeployIn, DeployOut
from peekr_web.schemas import Error, UtcDatetime
from traces.access import Action, api_requires

router = Router(tags=["metrics"])


def deploy_out(d: Deploy) -> dict:
    return {
        "id": d.pk,
        "version": d.version,
        "environment": d.environment,
        "description": d.description,
        "commit": d.commit,
        "time": d.at,
        "source": d.source,
    }


@router.post("/deploys", response={200: DeployOut, 201: DeployOut, 400: Error}, summary="Record a deploy")
@api_requires(Action.INGEST)
def post_deploy(request, payload: DeployIn):
    """A deploy marker for charts, the Releases list and alert payloads. Idempotent on version + environment:
    posting the same pair again updates it (200) instead of adding a second one (201)."""
    deploy, created = services.deploy_record(
        project=request.project,
        version=payload.version,
        environment=payload.environment,
        description=payload.description,
        commit=payload.commit,
        at=payload.time,
    )
    return Status(201 if created else 200, deploy_out(deploy))


class DeployFilters(Schema):
    since: UtcDatetime | None = None
    until: UtcDatetime | None = None
    limit: int = Field(100, ge=1, le=1000)


@router.get("/deploys", response=list[DeployOut], summary="List deploys")
@api_requires(Action.VIEW_TRACES)
def list_deploys(request, filters: Query[DeployFilters]):
    """The project's deploys, newest first (posted, or seen as a new service.version in traces)."""
    start = filters.since or datetime(1970, 1, 1, tzinfo=UTC)
    end = filters.until or datetime(9999, 12, 31, tzinfo=UTC)
    return [
        deploy_out(d) for d in selectors.deploys_between(project=request.project, start=start, end=end)[: filters.limit]
    ]
