"""Pure functions that turn sessions and spans into signals: plain data in, plain data out, no database.

- rephrase: the next user input of the same session, within the window, is the same request said again.
  Measure: rapidfuzz `fuzz.token_set_ratio` on text normalised by `rapidfuzz.utils.default_process`
  (lowercase, non-alphanumerics to spaces, trimmed), 0-100; a rephrase at >= the threshold (default 85).
  Chosen on realistic pairs: true rephrasings scored 89-100 ("Summarise this document in 3 bullet points" /
  "summarize this document in three bullet points" 89, "Cancel my order 1234" / "please cancel order 1234" 92);
  different requests 29-75 ("How do I export my data to CSV?" / "...import data from CSV?" 75). Plain `ratio`
  missed rephrasings at 68-77. Known miss the other way: one question asked about another city scores 88.
- abandonment: the session's last trace has an answer and nothing follows it for the quiet period, and the
  session has no task_completed signal.
- escalation: a span attribute `peekr.escalation` (true) or a span/tool name matching one of the patterns.
- span feedback: attributes `peekr.feedback.kind`, `.value`, `.comment`, `.edited_output` on a span, or a span
  event named `peekr.feedback` carrying the same attribute names.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime

from rapidfuzz import fuzz, utils

DEFAULT_ESCALATION_PATTERNS = ("handoff*", "hand_off*", "escalat*", "human*", "transfer_to_agent", "transfer_to_*")
FEEDBACK_KINDS = ("thumbs_up", "thumbs_down", "rating", "comment", "escalation", "task_completed", "edit")
FEEDBACK_EVENT = "peekr.feedback"
FEEDBACK_PREFIX = "peekr.feedback."
ESCALATION_ATTRIBUTE = "peekr.escalation"


@dataclass(frozen=True)
class Turn:
    """One trace of a session, as the derivations see it."""

    pk: int
    trace_id: str
    start: datetime
    end: datetime | None
    input: str
    output: str


@dataclass
class Found:
    """A signal found: written by signals.services with this key (unique per project)."""

    trace_pk: int
    kind: str
    key: str
    value: float | None = None
    evidence: dict = field(default_factory=dict)
    at: datetime | None = None


def similarity(a: str, b: str) -> float:
    """0-100: token_set_ratio on normalised text; 0 when either side is empty once normalised."""
    a, b = utils.default_process(a or ""), utils.default_process(b or "")
    if not a or not b:
        return 0.0
    return fuzz.token_set_ratio(a, b)


def rephrases(turns: list[Turn], *, window_seconds: float, threshold: float) -> list[Found]:
    """A rephrase signal on each turn whose next turn (same session, in time order) starts within the window
    after it ends and says the same request again. The signal sits on the earlier trace: its answer failed."""
    out = []
    ordered = sorted(turns, key=lambda t: (t.start, t.pk))
    for prev, nxt in zip(ordered, ordered[1:], strict=False):
        gap = (nxt.start - (prev.end or prev.start)).total_seconds()
        if gap > window_seconds:
            continue
        score = similarity(prev.input, nxt.input)
        if score >= threshold:
            out.append(
                Found(
                    trace_pk=prev.pk,
                    kind="rephrase",
                    key=f"rephrase:{prev.trace_id}",
                    value=round(score / 100, 4),
                    evidence={
                        "traces": [prev.trace_id, nxt.trace_id],
                        "similarity": round(score, 1),
                        "measure": "token_set_ratio",
                        "gap_seconds": round(max(gap, 0.0), 1),
                    },
                    at=nxt.start,
                )
            )
    return out


def abandonment(turns: list[Turn], *, now: datetime, quiet_seconds: float, completed: bool) -> Found | None:
    """The session ended right after an answer: its last turn has an output, nothing followed it for the quiet
    period, and no task was completed in the session."""
    if not turns or completed:
        return None
    last = max(turns, key=lambda t: (t.start, t.pk))
    ended = last.end or last.start
    quiet = (now - ended).total_seconds()
    if quiet < quiet_seconds or not last.output:
        return None
    return Found(
        trace_pk=last.pk,
        kind="abandonment",
        key=f"abandonment:{last.trace_id}",
        evidence={"traces": [last.trace_id], "gap_seconds": round(quiet, 1), "quiet_seconds": quiet_seconds},
        at=ended,
    )


def is_handoff(name: str, patterns: list[str] | tuple[str, ...]) -> str:
    """The pattern a span or tool name matches (case-insensitive), or ""."""
    low = (name or "").lower()
    return next((p for p in patterns if low and fnmatch.fnmatchcase(low, p.lower())), "")


def _truthy(value) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true", "yes"))


def escalation(span: dict, patterns: list[str] | tuple[str, ...]) -> dict | None:
    """Evidence that this span (a dict: span_id, name, tool_name, attributes) hands off to a human or another
    agent, or None."""
    attrs = span.get("attributes") or {}
    if _truthy(attrs.get(ESCALATION_ATTRIBUTE)):
        return {"span_id": span["span_id"], "attribute": ESCALATION_ATTRIBUTE}
    for name in (span.get("tool_name") or "", span.get("name") or ""):
        pattern = is_handoff(name, patterns)
        if pattern:
            return {"span_id": span["span_id"], "name": name, "pattern": pattern}
    return None


def _feedback_from(attrs: dict, span_id: str, where: str) -> dict | None:
    kind = attrs.get(FEEDBACK_PREFIX + "kind")
    if kind not in FEEDBACK_KINDS:
        return None
    raw = attrs.get(FEEDBACK_PREFIX + "value")
    value = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw)
        except ValueError:
            value = None
    return {
        "kind": kind,
        "value": value,
        "comment": str(attrs.get(FEEDBACK_PREFIX + "comment") or "")[:2000],
        "edited_output": str(attrs.get(FEEDBACK_PREFIX + "edited_output") or ""),
        "span_id": span_id,
        "where": where,
    }


def span_feedback(span: dict) -> list[dict]:
    """Feedback carried by a span: its own `peekr.feedback.*` attributes and each `peekr.feedback` event."""
    found = []
    own = _feedback_from(span.get("attributes") or {}, span["span_id"], "attributes")
    if own:
        found.append(own)
    for i, event in enumerate(span.get("events") or []):
        if isinstance(event, dict) and event.get("name") == FEEDBACK_EVENT:
            item = _feedback_from(event.get("attributes") or {}, span["span_id"], f"event {i}")
            if item:
                found.append(item)
    return found


def normalise_rating(value: float | None) -> float | None:
    """A rating from a span: 1-5 stars to 0-1, as the API does; None outside 1-5."""
    if value is None or not 1.0 <= value <= 5.0:
        return None
    return (value - 1.0) / 4.0
