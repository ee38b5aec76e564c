"""The one NinjaAPI: the JSON API under /api/, with its OpenAPI docs served offline at /api/docs."""

from ninja import NinjaAPI
from ninja.security import HttpBearer

from traces.selectors import project_for_key


class ProjectKey(HttpBearer):
    """`Authorization: Bearer <project key>`; the request's project is the key's."""

    def authenticate(self, request, token):
        project = project_for_key(token)
        if project is not None:
            request.project = project
        return project


api = NinjaAPI(
    title="Peekr API",
    version="1.0.0",
    description="Traces, spans and their scores. Authenticate with a project key: `Authorization: Bearer pk_...`.",
    auth=ProjectKey(),
    urls_namespace="api",
)

api.add_router("/v1/traces", "traces.api.router")
api.add_router("/v1", "evals.api.router")
api.add_router("/v1", "insights.api.router")
api.add_router("/v1", "annotations.api.router")
