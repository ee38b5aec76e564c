"""The detector registry: every detector runs over one trace's spans through ``detect_all``.

A detector is a module with ``ID`` and ``detect(index: TraceIndex) -> list[Finding]``: a pure function of the
trace, no database, no clock. ``detect_all`` builds the ``TraceIndex`` (children by parent, operations, text
caches) once and hands it to each detector in turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from insights.detectors import (
    context_growth,
    cost_hotspot,
    duplicate_calls,
    judge_critical_path,
    null_tool_output,
    retry_storm,
    runaway_loop,
    sequential,
)
from insights.detectors.ops import normalise_operation
from insights.detectors.types import (
    Finding,
    Fix,
    SpanView,
    TraceIndex,
    signature,
    span_view_from_row,
)

__all__ = [
    "DETECTORS",
    "Finding",
    "Fix",
    "SpanView",
    "TraceIndex",
    "detect_all",
    "normalise_operation",
    "signature",
    "span_view_from_row",
]

logger = logging.getLogger(__name__)

Detector = Callable[[TraceIndex], list[Finding]]
DETECTORS: list[tuple[str, Detector]] = [
    (module.ID, module.detect)
    for module in (
        sequential,
        judge_critical_path,
        runaway_loop,
        retry_storm,
        duplicate_calls,
        null_tool_output,
        cost_hotspot,
        context_growth,
    )
]
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def detect_all(spans: Iterable[SpanView]) -> list[Finding]:
    """Every detector's findings for one trace, most severe and largest saving first."""
    index = TraceIndex(spans)
    if not index.spans:
        return []
    findings: list[Finding] = []
    for detector_id, detect in DETECTORS:
        try:
            findings.extend(detect(index))
        except Exception:
            # One detector's bug on odd data must not cost the trace every other finding.
            logger.exception("insights detector %s failed on span tree of %s", detector_id, index.spans[0].span_id)
    findings.sort(key=lambda f: (_SEVERITY_ORDER.get(f.severity, 3), -f.saving_ms, -f.saving_usd, f.detector))
    return findings
