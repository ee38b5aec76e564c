"""Writes of releases: a verdict's consequences. The verdict itself is pure (releases.verdict), the comparison a
read (releases.selectors.compare)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from traces.models import Project

log = logging.getLogger(__name__)

# Called with (project, comparison) when a verdict FAILS (regressions registers: open a regression). A hook that
# raises is logged and the others still run: the deploy pipeline must get its exit code.
VERDICT_HOOKS: list[Callable[[Project, dict], None]] = []


def verdict_publish(*, project: Project, comparison: dict) -> int:
    """Hand a failed verdict to the registered hooks; returns the hooks called (0 unless it failed)."""
    if comparison["verdict"]["status"] != "fail":
        return 0
    called = 0
    for hook in list(VERDICT_HOOKS):
        try:
            hook(project, comparison)
        except Exception:  # noqa: BLE001 - one hook's failure must not cost the verdict or the other hooks
            log.exception("verdict hook %r failed", hook)
        called += 1
    return called
