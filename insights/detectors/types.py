"""Plain data the detectors read (SpanView, TraceIndex) and return (Finding, Fix). No Django here.

The storage layer turns ``Span.objects.values(...)`` rows into SpanViews with ``span_view_from_row`` and calls
``insights.detectors.detect_all``; everything below is built and tested without a database.

Number formatting in messages: durations are seconds with one decimal, rounded half up on tenths of a second
(5749 ms -> "5.7s", 5750 ms -> "5.8s"); money is US dollars, two decimals from $1, four below
(``format_seconds``, ``format_usd``).
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from insights.detectors.ops import normalise_operation

SEVERITIES = ("info", "warning", "critical")
# Kinds that wait on something outside the process (a model, a vector store, a tool): the work worth
# parallelising, batching or caching. Wrappers ("span", "chain", "agent") count when they contain one.
IO_KINDS = frozenset({"llm", "embedding", "retriever", "reranker", "tool", "guardrail", "evaluator"})
WRAPPER_KINDS = frozenset({"span", "chain", "agent"})
LLM_KINDS = frozenset({"llm", "evaluator"})

# A later call "uses" an earlier output when this much of the output's normalised text shows up in its input.
# Shorter outputs ("yes", "billing", "{}") are not distinctive: they appear in unrelated prompts too.
MIN_DISTINCTIVE_CHARS = 20
DISTINCTIVE_CHUNK_CHARS = 200
# Clock jitter between spans recorded by different processes or clocks.
JITTER_MS = 5.0
NULL_TEXTS = frozenset({"", "null", "none", "nil", "undefined", "[]", "{}", '""', "''", "n/a"})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class SpanView:
    """The first-class fields of one stored span that the detectors read."""

    span_id: str
    parent_span_id: str | None
    name: str
    kind: str = "span"  # llm chain tool retriever embedding agent reranker guardrail evaluator span
    model: str = ""
    provider: str = ""
    start_ms: float = 0.0  # epoch milliseconds
    end_ms: float | None = None  # None while the span is open
    duration_ms: float | None = None
    status: str = "unset"  # ok | error | unset
    error: str = ""
    input_text: str = ""  # for llm spans: the last user message
    output_text: str = ""  # for llm spans: the answer
    input_messages: tuple[dict[str, Any], ...] | list[dict[str, Any]] = ()  # {"role", "content", ...}
    tool_name: str = ""
    tool_arguments: str = ""
    tool_result: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None  # USD
    service_name: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


def span_view_from_row(row: Mapping[str, Any]) -> SpanView:
    """A SpanView from a ``.values(...)`` row: same keys, but start_time/end_time as datetimes.

    A naive datetime is read as UTC. An ``is_internal`` key, when the row has one, becomes the
    ``peekr.internal`` attribute the judge detector reads.
    """
    start_ms = _epoch_ms(row["start_time"])
    end = row.get("end_time")
    end_ms = _epoch_ms(end) if end is not None else None
    duration = row.get("duration_ms")
    if duration is None and end_ms is not None:
        duration = end_ms - start_ms
    attributes = row.get("attributes") or {}
    if row.get("is_internal") and not attributes.get("peekr.internal"):
        attributes = {**attributes, "peekr.internal": True}
    return SpanView(
        span_id=row["span_id"],
        parent_span_id=row.get("parent_span_id") or None,
        name=row.get("name") or "",
        kind=row.get("kind") or "span",
        model=row.get("model") or "",
        provider=row.get("provider") or "",
        start_ms=start_ms,
        end_ms=end_ms,
        duration_ms=duration,
        status=row.get("status") or "unset",
        error=row.get("error") or "",
        input_text=row.get("input_text") or "",
        output_text=row.get("output_text") or "",
        input_messages=tuple(row.get("input_messages") or ()),
        tool_name=row.get("tool_name") or "",
        tool_arguments=row.get("tool_arguments") or "",
        tool_result=row.get("tool_result") or "",
        input_tokens=row.get("input_tokens"),
        output_tokens=row.get("output_tokens"),
        cost=row.get("cost"),
        service_name=row.get("service_name") or "",
        attributes=attributes,
    )


def _epoch_ms(value: datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) / _MS


@dataclass
class Fix:
    """What to change, as copyable before/after code: snippets are {"label", "before", "after"}."""

    summary: str
    snippets: list[dict[str, str]] = field(default_factory=list)


def signature(detector: str, operation: str, parent_operation: str, service: str) -> str:
    """A stable 32-hex id of (detector, operation, parent operation, service): the key findings aggregate on."""
    key = "\x1f".join((detector, operation, parent_operation, service)).encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()


@dataclass
class Finding:
    """One pathology found in one trace.

    ``parent_operation`` is the operation of the involved spans' parent, except for request-level detectors
    (judge_critical_path, cost_hotspot) where it is the endpoint: the trace root's operation.
    """

    detector: str
    severity: str  # info | warning | critical
    title: str
    message: str
    span_ids: list[str]
    operation: str
    parent_operation: str = ""
    service: str = ""
    saving_ms: float = 0.0
    saving_usd: float = 0.0
    fix: Fix | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def signature(self) -> str:
        return signature(self.detector, self.operation, self.parent_operation, self.service)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["signature"] = self.signature
        return data


def tenths(ms: float) -> int:
    """Milliseconds as whole tenths of a second, rounded half up."""
    return math.floor(ms / 100 + 0.5)


def format_tenths(value: int) -> str:
    sign = "-" if value < 0 else ""
    whole, tenth = divmod(abs(value), 10)
    return f"{sign}{whole}.{tenth}s"


def format_seconds(ms: float) -> str:
    """5749 -> "5.7s", 5750 -> "5.8s", 279000 -> "279.0s"."""
    return format_tenths(tenths(ms))


def format_usd(usd: float) -> str:
    if usd >= 1:
        return f"${usd:,.2f}"
    return f"${usd:.4f}"


def normalise_text(text: str) -> str:
    """Lowercase with whitespace runs collapsed: what substring checks between spans compare."""
    return " ".join(text.lower().split())


def is_null_text(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in NULL_TEXTS)


def content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                text = part.get("text", part.get("content"))
                if isinstance(text, str):
                    parts.append(text)
        return "\n".join(parts)
    return json.dumps(content, default=str) if isinstance(content, dict) else str(content)


def tool_calls_text(message: Mapping[str, Any]) -> str:
    """An assistant message's tool calls as name(arguments), the way output_text records them."""
    calls = message.get("tool_calls") or ()
    out = []
    for call in calls:
        if isinstance(call, dict):
            function = call.get("function") if isinstance(call.get("function"), dict) else call
            arguments = function.get("arguments", "")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments, default=str)
            out.append(f"{function.get('name', '')}({arguments})")
    return "\n".join(out)


class TraceIndex:
    """One trace's spans, indexed once and shared by every detector: children by parent, operations, caches.

    Everything text-related is computed lazily and cached, since most detectors look at few spans.
    """

    def __init__(self, spans: Iterable[SpanView]) -> None:
        spans = [
            s
            if s.attributes is not None and s.input_messages is not None
            else replace(s, attributes=s.attributes or {}, input_messages=s.input_messages or ())
            for s in spans
        ]
        self.spans: list[SpanView] = sorted(spans, key=lambda s: (s.start_ms, s.span_id))
        self.by_id: dict[str, SpanView] = {s.span_id: s for s in self.spans}
        # Keyed by parent id, even when that parent never arrived: its children are still siblings.
        self.children: dict[str | None, list[SpanView]] = {}
        for s in self.spans:
            self.children.setdefault(s.parent_span_id, []).append(s)
        self.roots: list[SpanView] = [
            s for s in self.spans if s.parent_span_id is None or s.parent_span_id not in self.by_id
        ]
        # The request's root: the earliest true root, else the earliest orphan.
        true_roots = [s for s in self.roots if s.parent_span_id is None]
        self.root: SpanView | None = (true_roots or self.roots or [None])[0]
        self.ops: dict[str, str] = {
            s.span_id: normalise_operation(
                s.name, kind=s.kind, model=s.model, provider=s.provider, tool_name=s.tool_name
            )
            for s in self.spans
        }
        self.service: str = (self.root.service_name if self.root else "") or next(
            (s.service_name for s in self.spans if s.service_name), ""
        )
        self.tools: list[SpanView] = [s for s in self.spans if s.kind == "tool" or s.tool_name]
        # Whether a span's subtree waits on something outside (has_io) / calls a model (has_llm).
        self.has_io: dict[str, bool] = {}
        self.has_llm: dict[str, bool] = {}
        for s in reversed(self.spans):  # children start after their parents, so most are seen first
            self._mark(s, self.has_io, IO_KINDS)
            self._mark(s, self.has_llm, LLM_KINDS)
        self._norm: dict[str, str] = {}
        self._parts: dict[str, tuple[str, ...]] = {}
        self._chunks: dict[str, tuple[str, ...]] = {}
        self._msg_keys: dict[str, tuple[tuple[str, str], ...]] = {}
        self._subtree: dict[str, list[SpanView]] = {}
        self._cost: dict[str, float] = {}
        self._tree_input: dict[str, str] = {}
        self._tree_chunks: dict[str, tuple[str, ...]] = {}
        self._tree_calls: dict[str, tuple[SpanView, ...]] = {}
        self._deps: dict[str, frozenset[str]] = {}
        self._language: str | None = None

    def _mark(self, s: SpanView, marks: dict[str, bool], kinds: frozenset[str]) -> bool:
        found = marks.get(s.span_id)
        if found is None:
            marks[s.span_id] = False  # a cycle in bad data must not recurse forever
            found = s.kind in kinds or any(self._mark(c, marks, kinds) for c in self.children.get(s.span_id, ()))
            marks[s.span_id] = found
        return found

    # Structure

    def op(self, s: SpanView) -> str:
        return self.ops[s.span_id]

    def parent(self, s: SpanView) -> SpanView | None:
        return self.by_id.get(s.parent_span_id) if s.parent_span_id else None

    def parent_op(self, s: SpanView) -> str:
        parent = self.parent(s)
        return self.ops[parent.span_id] if parent else ""

    def ancestors(self, s: SpanView) -> Iterable[SpanView]:
        seen = {s.span_id}
        parent = self.parent(s)
        while parent is not None and parent.span_id not in seen:  # a cycle in bad data must not hang the worker
            seen.add(parent.span_id)
            yield parent
            parent = self.parent(parent)

    def root_of(self, s: SpanView) -> SpanView:
        top = s
        for ancestor in self.ancestors(s):
            top = ancestor
        return top

    def subtree(self, s: SpanView) -> list[SpanView]:
        """The span and all its descendants."""
        found = self._subtree.get(s.span_id)
        if found is None:
            found, stack, seen = [], [s], set()
            while stack:
                node = stack.pop()
                if node.span_id in seen:
                    continue
                seen.add(node.span_id)
                found.append(node)
                stack.extend(self.children.get(node.span_id, ()))
            self._subtree[s.span_id] = found
        return found

    def subtree_cost(self, s: SpanView) -> float:
        """USD spent in the span's subtree. Where descendants are priced their sum wins over the span's own cost:
        a framework span that repeats its child's cost must not count it twice."""
        found = self._cost.get(s.span_id)
        if found is None:
            self._cost[s.span_id] = 0.0  # a cycle in bad data adds nothing
            below = sum(self.subtree_cost(c) for c in self.children.get(s.span_id, ()))
            found = below if below > 0 else (s.cost or 0.0)
            self._cost[s.span_id] = found
        return found

    def outermost(self, spans: Iterable[SpanView]) -> list[SpanView]:
        """Drop spans nested inside another of the same set: one call recorded twice by stacked instrumentations."""
        spans = list(spans)
        ids = {s.span_id for s in spans}
        return [s for s in spans if not any(a.span_id in ids for a in self.ancestors(s))]

    @staticmethod
    def end(s: SpanView) -> float | None:
        if s.end_ms is not None:
            return s.end_ms
        return s.start_ms + s.duration_ms if s.duration_ms is not None else None

    @staticmethod
    def duration(s: SpanView) -> float | None:
        if s.end_ms is not None:
            return max(0.0, s.end_ms - s.start_ms)
        return s.duration_ms

    # Text, for "did this call use that one's output"

    def norm(self, text: str) -> str:
        """normalise_text, once per distinct string: an agent re-sends the same messages at every step."""
        found = self._norm.get(text)
        if found is None:
            found = self._norm[text] = normalise_text(text)
        return found

    def input_parts(self, s: SpanView) -> tuple[str, ...]:
        """The normalised pieces of what the span was given: input text, message contents, tool calls, arguments."""
        found = self._parts.get(s.span_id)
        if found is None:
            raw = [s.input_text, s.tool_arguments]
            for msg in s.input_messages:
                if isinstance(msg, dict):
                    content = msg.get("content")
                    raw.append(content if isinstance(content, str) else content_text(content))
                    if msg.get("tool_calls"):
                        raw.append(tool_calls_text(msg))
            found = tuple(dict.fromkeys(self.norm(p) for p in raw if p))
            self._parts[s.span_id] = found
        return found

    def input_of(self, s: SpanView) -> str:
        return " ".join(self.input_parts(s))

    def output_chunks(self, s: SpanView) -> tuple[str, ...]:
        """Distinctive pieces of the span's output (its first and last 200 normalised characters), or none."""
        found = self._chunks.get(s.span_id)
        if found is None:
            chunks: list[str] = []
            for raw in {s.output_text, s.tool_result}:
                text = self.norm(raw) if raw else ""
                if len(text) >= MIN_DISTINCTIVE_CHARS:
                    chunks.append(text[:DISTINCTIVE_CHUNK_CHARS])
                    if len(text) > DISTINCTIVE_CHUNK_CHARS:
                        chunks.append(text[-DISTINCTIVE_CHUNK_CHARS:])
            found = tuple(chunks)
            self._chunks[s.span_id] = found
        return found

    def message_key(self, s: SpanView) -> tuple[tuple[str, str], ...]:
        """The input messages as (role, normalised content) pairs: equal prefixes mean one conversation."""
        found = self._msg_keys.get(s.span_id)
        if found is None:
            key = []
            for m in s.input_messages:
                if isinstance(m, dict):
                    content = m.get("content")
                    text = content if isinstance(content, str) else content_text(content)
                    if m.get("tool_calls"):
                        text += tool_calls_text(m)
                    key.append((str(m.get("role", "")), self.norm(text)))
            found = self._msg_keys[s.span_id] = tuple(key)
        return found

    def continues(self, later: SpanView, earlier: SpanView) -> bool:
        """The later call re-sends the earlier call's whole conversation and adds to it: an agent loop step."""
        a, b = self.message_key(earlier), self.message_key(later)
        return 0 < len(a) < len(b) and b[: len(a)] == a

    def tree_input(self, s: SpanView) -> str:
        """Everything given to the span and its descendants, normalised, each distinct piece once."""
        found = self._tree_input.get(s.span_id)
        if found is None:
            found = " ".join(dict.fromkeys(p for x in self.subtree(s) for p in self.input_parts(x)))
            self._tree_input[s.span_id] = found
        return found

    def tree_chunks(self, s: SpanView) -> tuple[str, ...]:
        found = self._tree_chunks.get(s.span_id)
        if found is None:
            found = tuple(c for x in self.subtree(s) for c in self.output_chunks(x))
            self._tree_chunks[s.span_id] = found
        return found

    def tree_calls(self, s: SpanView) -> tuple[SpanView, ...]:
        found = self._tree_calls.get(s.span_id)
        if found is None:
            found = self._tree_calls[s.span_id] = tuple(x for x in self.subtree(s) if x.input_messages)
        return found

    # Dependencies between siblings

    def depends(self, later: SpanView, earlier: SpanView) -> bool:
        """Whether the later sibling needed the earlier one's work, directly or through siblings between them."""
        return earlier.span_id in self.sibling_deps(later)

    def depends_any(self, later: Sequence[SpanView], earlier: Sequence[SpanView]) -> bool:
        return any(e.span_id in self.sibling_deps(s) for s in later for e in earlier)

    def sibling_deps(self, s: SpanView) -> frozenset[str]:
        """The earlier siblings this span depends on, transitively (it used one that used another...).

        A span directly uses an earlier sibling that had ended when it started when:

        - its input, its descendants' included, contains a distinctive piece of the earlier one's outputs (the
          first or last 200 normalised characters of an output of at least 20 characters, descendants' too);
        - one of its calls continues a call of the earlier one: re-sends all its messages and adds more;
        - it repeats the earlier one's exact input with the same operation (a retry, a duplicate);
        - it is a tool, and the earlier one called a model whose output names it ("get_weather("), or is the
          sibling just before it and called a model: the model asked for the tool.

        Computed for all the parent's children at once: a sibling list of independent calls is where this is
        asked the most, so the checks are done in bulk (one search per output piece over all later inputs, dict
        lookups for conversations and repeats) rather than pair by pair.
        """
        found = self._deps.get(s.span_id)
        if found is None:
            self._sibling_deps_of(s.parent_span_id)
            found = self._deps.get(s.span_id, frozenset())
        return found

    def _sibling_deps_of(self, parent_id: str | None) -> None:
        siblings = [x for x in self.children.get(parent_id, ()) if self.end(x) is not None]
        n = len(siblings)
        starts = [x.start_ms + JITTER_MS for x in siblings]  # an earlier sibling must have ended by then
        ends = [self.end(x) or x.start_ms for x in siblings]
        direct: list[set[int]] = [set() for _ in siblings]

        def link(later: int, earlier: int) -> None:
            if earlier < later and ends[earlier] <= starts[later]:
                direct[later].add(earlier)

        # Output pieces found in later inputs: one search per piece over every later sibling's input.
        texts = [self.tree_input(x) for x in siblings]
        offsets, joined = [], []
        position = 0
        for text in texts:
            offsets.append(position)
            joined.append(text)
            position += len(text) + 1
        haystack = "\x00".join(joined)
        chunks = [self.tree_chunks(x) for x in siblings]
        for i, pieces in enumerate(chunks):
            if i + 1 >= n:
                break
            for piece in pieces:
                at = haystack.find(piece, offsets[i + 1])
                while at != -1:
                    j = bisect_right(offsets, at) - 1
                    link(j, i)
                    if j + 1 >= n:
                        break
                    at = haystack.find(piece, offsets[j + 1])

        # Conversations continued: a later call's messages start with all of an earlier call's messages.
        owners: dict[tuple[tuple[str, str], ...], list[int]] = {}
        for i, x in enumerate(siblings):
            for call in self.tree_calls(x):
                key = self.message_key(call)
                if key:
                    owners.setdefault(key, []).append(i)
        if owners:
            for j, x in enumerate(siblings):
                for call in self.tree_calls(x):
                    key = self.message_key(call)
                    for size in range(1, len(key)):
                        for i in owners.get(key[:size], ()):
                            link(j, i)

        # The same input again, same operation.
        repeats: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        for i, x in enumerate(siblings):
            parts = self.input_parts(x)
            if parts:
                repeats.setdefault((self.ops[x.span_id], parts), []).append(i)
        for same in repeats.values():
            for k, j in enumerate(same):
                for i in same[:k]:
                    link(j, i)

        # Tools asked for by a model call.
        for j, x in enumerate(siblings):
            if not (x.tool_name or x.kind == "tool"):
                continue
            called = self.norm(x.tool_name) + "(" if x.tool_name else ""
            nearest = True
            for i in range(j - 1, -1, -1):
                if ends[i] > starts[j]:
                    continue
                if self.has_llm[siblings[i].span_id] and (
                    nearest or (called and any(called in piece for piece in chunks[i]))
                ):
                    link(j, i)
                nearest = False

        closure: list[set[int]] = []
        for j in range(n):
            deps: set[int] = set()
            for i in sorted(direct[j], reverse=True):
                if i not in deps:
                    deps.add(i)
                    deps |= closure[i]
            closure.append(deps)
            self._deps[siblings[j].span_id] = frozenset(siblings[i].span_id for i in deps)

    @property
    def language(self) -> str:
        """ "python", "javascript" or "" (unknown), from SDK attributes: which fix snippets apply."""
        if self._language is None:
            self._language = ""
            for s in self.spans:
                attrs = s.attributes or {}
                lang = str(attrs.get("telemetry.sdk.language") or attrs.get("process.runtime.name") or "").lower()
                if lang in ("python", "cpython", "pypy"):
                    self._language = "python"
                elif lang in ("nodejs", "node", "js", "javascript", "webjs", "deno", "bun") or "ai.model.id" in attrs:
                    self._language = "javascript"
                if self._language:
                    break
        return self._language

    def service_of(self, spans: Iterable[SpanView]) -> str:
        return next((s.service_name for s in spans if s.service_name), self.service)
