"""The "Evaluations are 4 min behind" notice base.html shows on every page of a signed-in user."""

from django.core.cache import cache
from django.utils.functional import SimpleLazyObject

from traces.pipeline_state import behind_notice, stage_backlog

NOTICE_CACHE_KEY = "peekr:pipeline-notice"
NOTICE_CACHE_SECONDS = 15  # one backlog query per process this often, whatever the traffic


def _notice() -> str:
    text = cache.get(NOTICE_CACHE_KEY)
    if text is None:
        text = behind_notice(stage_backlog())
        cache.set(NOTICE_CACHE_KEY, text, NOTICE_CACHE_SECONDS)
    return text


def pipeline_notice(request) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    # Lazy: read only by a template that shows it (base.html), not by every htmx partial.
    return {"pipeline_notice": SimpleLazyObject(_notice)}


def access(request) -> dict:
    """What the nav may offer on a project page: read from the membership the view already loaded
    (traces.access.membership_for), so no query of its own."""
    membership = getattr(request, "_peekr_membership", None)
    if membership is None:
        return {}
    from traces.access import Action, role_can

    return {
        "can": {
            "view_traces": role_can(membership.role, Action.VIEW_TRACES, membership.project),
            "manage_members": role_can(membership.role, Action.MANAGE_MEMBERS),
            "view_audit": role_can(membership.role, Action.VIEW_AUDIT),
        }
    }
