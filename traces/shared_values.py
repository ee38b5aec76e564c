"""Values that recur across spans, stored once (issue 14 §1; used by traces.lean).

What is left of a span after traces.lean took its content still repeats from trace to trace: a tool's JSON schema
in every LLM span, the invocation parameters, the skeleton of a request body (``{"model": ..., "messages": ``
around a reference to the messages), the list of rules taken. Such an item is stored once per project in
``SharedValue`` and the span's lean record names it: the items of a span that recur make one bundle, stored
once per project under a digest of its JSON (``"s": "<16 characters>"``).

Only what recurs is shared: an item is counted per process and shared from its SHARE_AFTER-th occurrence on, so a
value seen once (a response id, a unique body) never gets a row of its own. Rows are immutable and never reused
and named by their content, so each process caches them without invalidation: the spans of a trace name a few
bundles, each costing one query the first time the process meets it, none after.

Items (JSON lists): ``["k", key, value]`` a kept attribute (a string, number or boolean, short ones too: a span
kind and two mime types make a bundle worth its reference), ``["a", key, template]`` a template of traces.lean,
``["r", rules]`` the rules string of traces.lean. A template that does not recur whole (a response body: its id,
its token counts) may recur as a skeleton: every run holding a digit cut out (``holes``); the skeleton is shared,
the holes stay in the span's record (``"h": {key: "hole hole ..."}``) and fill it again on read. Never shared:
the keys the apps read from the stored attributes (``NOT_SHARED``, traces.lean.ALWAYS_KEPT).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import threading
from typing import Any

from django.db import connection, transaction

SHARE_AFTER = 3  # occurrences of an item in this process before it is shared
MIN_BUNDLE = 64  # characters of JSON a bundle holds at least (the record's reference takes ~25 bytes)
SEEN_MAX = 100_000  # items counted at most (then the count starts again)
CACHE_MAX = 20_000  # bundles cached at most per process (then the cache starts again)

_lock = threading.Lock()
_seen: dict[tuple[int, str], int] = {}  # (project, item digest) -> occurrences in this process
_stored: set[tuple[int, str]] = set()  # (project, bundle digest) of committed rows
_bundles: dict[tuple[int, str], list] = {}  # (project, bundle digest) -> its items
_pending: dict[tuple[int, str], Any] = {}  # (project, bundle digest) -> its on_commit callback, until it runs
_digests: dict[tuple, tuple[str, int]] = {}  # scalar item -> (digest, length of its JSON)


def digest(value: Any) -> str | None:
    """16 characters naming the value's canonical JSON (96 bits of blake2b), or None for a value never shared (a
    NUL character: jsonb would not keep it as is)."""
    found = _described(value)
    return found[0] if found else None


def _described(value: Any) -> tuple[str, int] | None:
    """(digest, length of the canonical JSON) of a value, or None when it is never shared. Scalar items (a kept
    attribute, the rules) are remembered: most recur, and hashing them is most of what sharing costs at ingest."""
    scalar = len(value) == 3 and isinstance(value[2], (str, int))  # not a float: 0.0 and -0.0 are equal keys
    memo = (value[0], value[1], type(value[2]), value[2]) if scalar else None
    if memo is None and len(value) == 2 and value[0] == "r":
        memo = tuple(value)
    found = _digests.get(memo) if memo is not None else None
    if found is None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        if "\\u0000" in text:
            return None
        name = base64.urlsafe_b64encode(hashlib.blake2b(text.encode(), digest_size=12).digest()).decode()
        found = (name, len(text))
        if memo is not None:
            if len(_digests) >= SEEN_MAX:
                _digests.clear()
            _digests[memo] = found
    return found


def share(project_id: int, choices: list[list]) -> tuple[str | None, list[int | None]]:
    """(the digest of the bundle of the items that recur, stored now if needed; for each entry of ``choices``, the
    position of the alternative it holds, or None). An entry lists alternative items, preferred first (a template
    whole, then its skeleton): each is counted, the first that recurs is shared. A bundle holds its items in the
    order of their digests and is named by them, so by its content: a cached one is never stale whatever happened
    to the row ids."""
    picked: list[int | None] = []
    chosen: list[tuple[str, int, list]] = []
    with _lock:
        if len(_seen) >= SEEN_MAX:
            _seen.clear()
        for alternatives in choices:
            pick = None
            for position, item in enumerate(alternatives):
                found = _described(item)
                if found is None:
                    continue
                count = _seen[(project_id, found[0])] = _seen.get((project_id, found[0]), 0) + 1
                if pick is None and count >= SHARE_AFTER:
                    pick = position
                    chosen.append((*found, item))
            picked.append(pick)
    if sum(size for _, size, _ in chosen) < MIN_BUNDLE:  # the reference would take about as much
        return None, [None] * len(choices)
    chosen.sort(key=lambda c: c[0])
    keys = ",".join(key for key, _, _ in chosen)
    name = base64.urlsafe_b64encode(hashlib.blake2b(keys.encode(), digest_size=12).digest()).decode()
    if (project_id, name) not in _stored and not _stored_here((project_id, name)):
        _store(project_id, name, [item for _, _, item in chosen])
    return name, picked


def _store(project_id: int, name: str, bundle: list) -> None:
    """Insert the bundle (a row already there is kept). It is remembered as stored only once committed: a span
    written later must not name a rolled-back row without inserting it again."""
    from traces.models import SharedValue

    row = SharedValue(project_id=project_id, digest=name, value=bundle)
    if connection.in_atomic_block:  # cannot fail (ignore_conflicts): no savepoint needed
        SharedValue.objects.bulk_create([row], ignore_conflicts=True)
    else:
        with transaction.atomic():  # SQLite: a write takes its turn (traces/write_queue.py)
            SharedValue.objects.bulk_create([row], ignore_conflicts=True)

    def remember() -> None:
        with _lock:
            if len(_stored) >= CACHE_MAX:
                _stored.clear()
            _stored.add((project_id, name))
            _pending.pop((project_id, name), None)

    with _lock:
        if len(_pending) >= CACHE_MAX:
            _pending.clear()
        _pending[(project_id, name)] = remember
    transaction.on_commit(remember)


def _stored_here(key: tuple[int, str]) -> bool:
    """Inserted by the transaction still open (its callback still waits for the commit: a rollback, of the
    transaction or of the savepoint it was inserted in, drops it), so the next spans of a batch written inside one
    transaction need not insert it again."""
    callback = _pending.get(key)
    return callback is not None and any(entry[1] is callback for entry in connection.run_on_commit)


def resolve(project_id: int, name: str) -> list:
    """The items of a bundle (one query the first time this process meets it; [] if the row is gone)."""
    key = (project_id, name)
    found = _bundles.get(key)
    if found is None:
        from traces.models import SharedValue

        found = SharedValue.objects.filter(project_id=project_id, digest=name).values_list("value", flat=True).first()
        if found is None:
            return []
        with _lock:
            if len(_bundles) >= CACHE_MAX:
                _bundles.clear()
            _bundles[key] = found
    return found


# --- The trace list's attribute filter ------------------------------------------------------------------------
MATCH_SCAN_MAX = 20_000  # bundles of a project read at most to answer one filter (the newest first)


def _matches(text: str, op: str, value: str) -> bool:
    """traces.selectors._text_q's comparison: contains / prefix case-insensitively, equals exactly."""
    if op == "contains":
        return value.casefold() in text.casefold()
    if op == "prefix":
        return text.casefold().startswith(value.casefold())
    return text == value


def bundles_matching(project_id: int, key: str, op: str, value: str) -> list[str]:
    """The digests of the project's bundles holding attribute ``key`` with a value that matches: spans naming one
    of them (``lean["s"]``) have the attribute as sent, though it is not in their stored attributes."""
    from traces.models import SharedValue

    rows = (
        SharedValue.objects.filter(project_id=project_id)
        .order_by("-pk")
        .values_list("digest", "value")[:MATCH_SCAN_MAX]
    )
    found = []
    for digest, items in rows.iterator(chunk_size=2000):
        for item in items or []:
            if item[0] == "k" and item[1] == key and _matches(_as_text(item[2]), op, value):
                found.append(digest)
                break
    return found


def _as_text(value: Any) -> str:
    """An attribute value as the JSON key lookup gives it as text (booleans as true/false)."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


# --- traces.lean's records ---------------------------------------------------------------------------------------
# Kept attributes long enough to matter, the templates and the rules string are shared once they recur; the record
# names their bundle ("s"). Never shared: the keys other code reads from the stored attributes.
NOT_SHARED = (
    "tag.tags",
    "langfuse.trace.tags",
    "langfuse.environment",
    # read from Span.attributes by the insights detectors (judge_critical_path, types, null_tool_output)
    "gen_ai.operation.name",
    "telemetry.sdk.language",
    "process.runtime.name",
    "ai.model.id",
    "gen_ai.tool.call.id",
    "tool_call.id",
    "tool.call_id",
    "tool_call_id",
    "tool.call.id",
)


def take(project_id: int, kept: dict, record: dict, *, never: tuple) -> tuple[dict, dict]:
    """(attributes kept, lean record) with what recurs moved to a shared bundle: kept attributes whatever their
    size (a span kind, a mime type: together they make the bundle worth its reference), templates, the rules. A
    template that does not recur whole may recur as a skeleton (see holes): the skeleton is shared, its holes stay
    in the record ("h": {key: the holes joined by spaces})."""
    choices = [[["k", k, v]] for k, v in kept.items() if _plain(v) and not k.startswith(never) and k not in NOT_SHARED]
    skeletons: dict[str, list] = {}
    for k, t in (record.get("a") or {}).items():
        skeleton, skeletons[k] = holes(t)
        choices.append([["a", k, t]] + ([["a", k, skeleton]] if skeletons[k] else []))
    if record.get("r"):
        choices.append([["r", record["r"]]])
    if not choices:
        return kept, record
    name, picked = share(project_id, choices)
    if name is None:
        return kept, record
    kept, record = dict(kept), {**record, "s": name, "a": dict(record.get("a") or {})}
    for alternatives, pick in zip(choices, picked, strict=True):
        if pick is None:
            continue
        kind, key = alternatives[0][0], alternatives[0][1]
        if kind == "k":
            del kept[key]
        elif kind == "a":
            del record["a"][key]
            if pick:
                record.setdefault("h", {})[key] = " ".join(skeletons[key])
        else:
            del record["r"]
    if not record.get("a"):
        record.pop("a", None)
    return kept, record


def _plain(value: Any) -> bool:
    """A value stored as it is: a string, a number or a boolean (not bytes, NaN or a list, which ingest encodes)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int))


# A run of ASCII letters, digits and ``_.-`` holding a digit: an id, a count, a time ("chatcmpl-9f3a...", 737).
_HOLE = re.compile(r"[A-Za-z0-9_.\-]*[0-9][A-Za-z0-9_.\-]*")
MAX_HOLES = 16  # a template with more is prose, not a skeleton around a few ids


def holes(template: Any) -> tuple[Any, list[str]]:
    """(the template's skeleton, its holes): every run holding a digit in its literal pieces is cut out and
    replaced by ``["$", n]``, n its position in the holes. A response body's skeleton recurs from call to call
    where the body itself never does (its id, its token counts). No holes: ``(template, [])``."""
    if not isinstance(template, list):
        return template, []
    skeleton: list = []
    found: list[str] = []
    for piece in template:
        if not isinstance(piece, str):
            skeleton.append(piece)
            continue
        at = 0
        for m in _HOLE.finditer(piece):
            if m.start() > at:
                skeleton.append(piece[at : m.start()])
            skeleton.append(["$", len(found)])
            found.append(m.group())
            at = m.end()
        if at < len(piece):
            skeleton.append(piece[at:])
    if len(found) > MAX_HOLES:
        return template, []
    return skeleton, found


def filled(skeleton: Any, found: list[str]) -> Any:
    """The template a skeleton and its holes make (holes() undone), or None when a hole is missing."""
    if not isinstance(skeleton, list):
        return skeleton
    out: list = []
    for piece in skeleton:
        if isinstance(piece, list) and piece[0] == "$":
            if piece[1] >= len(found):
                return None
            piece = found[piece[1]]
        if isinstance(piece, str) and out and isinstance(out[-1], str):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def expanded(span: Any, record: dict) -> tuple[Any, dict]:
    """(the span with its shared attributes back, the record with its shared templates and rules back)."""
    attributes, templates, record = {}, dict(record.get("a") or {}), dict(record)
    gaps = record.get("h") or {}
    for item in resolve(_get(span, "project_id", 0), record["s"]):
        if item[0] == "k":
            attributes[item[1]] = item[2]
        elif item[0] == "a":
            template = filled(item[2], str(gaps[item[1]]).split(" ")) if item[1] in gaps else item[2]
            if template is not None:
                templates[item[1]] = template
        elif item[0] == "r":
            record["r"] = item[1]
    record["a"] = templates
    kept = _get(span, "attributes", {})
    view = {**span, "attributes": {**attributes, **kept}} if isinstance(span, dict) else _View(span, attributes)
    return view, record


class _View:
    """A span read through getattr, with its shared attributes added to its kept ones."""

    def __init__(self, span: Any, shared: dict):
        self._span = span
        self.attributes = {**shared, **_get(span, "attributes", {})}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._span, name)


def _get(obj: Any, name: str, default: Any) -> Any:
    value = obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)
    return default if value is None else value


def forget() -> None:
    """Empty this process's counts and caches (tests; a database recreated under a running process)."""
    with _lock:
        _seen.clear()
        _stored.clear()
        _bundles.clear()
        _pending.clear()
        _digests.clear()
