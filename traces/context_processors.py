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
