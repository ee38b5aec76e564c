"""Make one span safe to store, or say why it cannot be: a hostile span never costs the rest of its batch.

Pure functions on plain data (RawSpan, dicts), applied by every decoder to each span before the database.

Cleaned (the span is kept):
- U+0000 (PostgreSQL's text and jsonb refuse it) and lone surrogates (JSON's ``"\\ud800"``; UTF-8 cannot encode
  them) become U+FFFD, in keys and values, span and event names, status messages. Replacing, not stripping: two
  keys that differ only there stay apart, and the reader sees that something was there.
- An integer outside int64 (OTLP's int_value is int64; only JSON can carry more) becomes its decimal text;
  NaN and the infinities (not JSON) become null; a span kind outside the OTel enum becomes 0 (unspecified).
- Limits, as OpenTelemetry's attribute limits: at most ``max_attributes`` attributes per span, per event and per
  resource, events per span, and items per array or map inside a value (the first ones are kept); a string longer
  than ``max_value_chars`` is cut and ends with a marker; a value nested deeper than ``MAX_DEPTH`` is replaced by a
  marker. What was dropped is counted in the span's ``peekr.dropped_attributes_count`` (OTel's
  dropped_attributes_count), what was cut in ``peekr.truncated_values_count``.

Rejected (the span is left out, with the reason): a start or end time outside 2000-01-01 .. 2262-04-11 (int64
nanoseconds): an SDK that sends milliseconds where seconds or nanoseconds are due lands far outside it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # traces.normalize imports this module
    from traces.normalize.types import RawSpan

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MAX = 2**31 - 1
MIN_TIME_NS = 946_684_800 * 10**9  # 2000-01-01T00:00:00Z: no LLM trace is older
MAX_TIME_NS = INT64_MAX  # 2262-04-11: the most a signed 64-bit nanosecond count holds
MAX_DEPTH = 32  # levels of arrays and maps inside one attribute value
JSON_MAX_DEPTH = 200  # levels of a JSON body kept by load_json; deeper values are cut (the parser recurses)
DEPTH_MARKER = f"[nested deeper than {MAX_DEPTH} levels]"
DROPPED_KEY, TRUNCATED_KEY = "peekr.dropped_attributes_count", "peekr.truncated_values_count"
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
# A JSON string token (escapes included) or a bracket: load_json's fallback scan.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class RequestTooLarge(Exception):
    """The request as a whole is over a limit: answered 413, a final error for OTLP clients (not retried)."""


@dataclass(frozen=True)
class Limits:
    """What one request and one span may carry; the defaults are settings.PEEKR_MAX_* (see .env.example)."""

    max_attributes: int = 1024
    max_value_chars: int = 262_144
    max_spans_per_request: int = 10_000
    max_decoded_bytes: int = 20 * 1024 * 1024


def limits_from_settings() -> Limits:
    from django.conf import settings

    return Limits(
        max_attributes=settings.PEEKR_MAX_ATTRIBUTES_PER_SPAN,
        max_value_chars=settings.PEEKR_MAX_ATTRIBUTE_VALUE_CHARS,
        max_spans_per_request=settings.PEEKR_MAX_SPANS_PER_REQUEST,
        max_decoded_bytes=settings.PEEKR_MAX_DECODED_BYTES,
    )


def clean_text(value: str) -> str:
    """The string with U+0000 and lone surrogates replaced by U+FFFD."""
    return _BAD_CHARS.sub("\ufffd", value) if _BAD_CHARS.search(value) else value


def time_problem(ns: int, what: str) -> str | None:
    """Why a span time (nanoseconds since the epoch) cannot be stored, or None."""
    if MIN_TIME_NS <= ns <= MAX_TIME_NS:
        return None
    return (
        f"{what} {ns} ns since the epoch is out of range (2000-01-01 .. 2262-04-11): is it in the wrong unit? "
        "OTLP times are nanoseconds, the Peekr SDK's seconds"
    )


class Cleaner:
    """Cleans the values of one span under its limits, counting what it drops and what it cuts."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.dropped = 0
        self.truncated = 0

    def text(self, value: str) -> str:
        value = clean_text(value)
        limit = self.limits.max_value_chars
        if len(value) > limit:
            self.truncated += 1
            return f"{value[:limit]}…[truncated {len(value) - limit} characters]"
        return value

    def value(self, value: Any, depth: int = 0) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value if INT64_MIN <= value <= INT64_MAX else str(value)
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if isinstance(value, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                self.truncated += 1
                return DEPTH_MARKER
            if isinstance(value, dict):
                return self.mapping(value, depth + 1)
            kept = value[: self.limits.max_attributes]
            self.dropped += len(value) - len(kept)
            return [self.value(v, depth + 1) for v in kept]
        if isinstance(value, (bytes, bytearray)):
            if len(value) > self.limits.max_value_chars:
                self.truncated += 1
                return bytes(value[: self.limits.max_value_chars])
            return value
        return self.text(str(value))

    def mapping(self, items: dict, depth: int = 0) -> dict:
        """A map (an attribute bag, or a map inside a value) with clean keys, at most max_attributes of them."""
        limit, max_chars, bad = self.limits.max_attributes, self.limits.max_value_chars, _BAD_CHARS.search
        if len(items) > limit:
            self.dropped += len(items) - limit
            items = dict(islice(items.items(), limit))
        out = {}
        for key, value in items.items():  # the hot loop of ingest: plain short strings take no call
            if type(key) is not str or len(key) > max_chars or "\x00" in key or (not key.isascii() and bad(key)):
                key = self.text(key if isinstance(key, str) else str(key))
            if type(value) is str:
                if len(value) > max_chars or "\x00" in value or (not value.isascii() and bad(value)):
                    value = self.text(value)
            elif not (type(value) is int and INT64_MIN <= value <= INT64_MAX):
                value = self.value(value, depth)
            out[key] = value
        return out

    def event(self, event: dict) -> dict:
        time_ns = event.get("time_ns") or 0
        return {
            "name": self.text(str(event.get("name") or "")),
            "time_ns": time_ns if isinstance(time_ns, int) and 0 <= time_ns <= MAX_TIME_NS else 0,
            "attributes": self.mapping(event.get("attributes") or {}),
        }


def clean_span(raw: RawSpan, limits: Limits, resources: dict[int, tuple] | None = None) -> RawSpan | str:
    """The span made safe to store, or the reason it is rejected.

    ``resources`` caches cleaned resource attributes by the id of the decoder's dict: a batch's spans share a few.
    """
    reason = time_problem(raw.start_ns, "start time")
    if reason is None and raw.end_ns is not None:
        reason = time_problem(raw.end_ns, "end time")
    if reason:
        return reason
    cleaner = Cleaner(limits)
    attributes = cleaner.mapping(raw.attributes)
    events = [cleaner.event(e) for e in raw.events[: limits.max_attributes]]
    cleaner.dropped += len(raw.events) - len(events)
    cached = resources.get(id(raw.resource)) if resources is not None else None
    if cached is None:
        resource = Cleaner(limits).mapping(raw.resource)
        if resources is not None:  # the original is kept with it, so its id cannot be reused meanwhile
            resources[id(raw.resource)] = (raw.resource, resource)
    else:
        resource = cached[1]
    if cleaner.dropped:
        attributes[DROPPED_KEY] = cleaner.dropped + _as_count(raw.attributes.get(DROPPED_KEY))
    if cleaner.truncated:
        attributes[TRUNCATED_KEY] = cleaner.truncated + _as_count(raw.attributes.get(TRUNCATED_KEY))
    return replace(
        raw,
        name=cleaner.text(raw.name),
        kind=raw.kind if isinstance(raw.kind, int) and 0 <= raw.kind <= 5 else 0,
        attributes=attributes,
        events=events,
        status_code=raw.status_code if raw.status_code in (0, 1, 2) else 0,
        status_message=cleaner.text(raw.status_message),
        resource=resource,
        scope_name=cleaner.text(raw.scope_name),
        scope_version=cleaner.text(raw.scope_version),
    )


def _as_count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT32_MAX else 0


def column_int(value: int | None) -> int | None:
    """A count for an integer column (token counts): None when it does not fit (the attribute keeps the value)."""
    return value if value is None or -INT32_MAX - 1 <= value <= INT32_MAX else None


def column_float(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


# ------------------------------------------------------------------------------------------------ JSON bodies


def load_json(body: bytes | str) -> Any:
    """json.loads, except that a body nested deeper than the parser can recurse still loads: values deeper than
    JSON_MAX_DEPTH levels become DEPTH_MARKER, so the spans around one absurdly nested value are kept.

    Raises ValueError (and UnicodeDecodeError) as json.loads does.
    """
    try:
        return json.loads(body)
    except RecursionError:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return json.loads(cut_deep_json(text, JSON_MAX_DEPTH))


def cut_deep_json(text: str, max_depth: int) -> str:
    """The JSON text with every array or object that opens deeper than max_depth replaced by DEPTH_MARKER.

    One regex scan (strings are whole tokens, so brackets inside them do not count): linear in the body's size,
    and only run when the parser gave up.
    """
    marker = json.dumps(DEPTH_MARKER)
    parts: list[str] = []
    depth, cut_from, kept_from = 0, -1, 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{" and len(token) == 1:
            depth += 1
            if depth == max_depth + 1 and cut_from < 0:
                cut_from = match.start()
        elif token in "]}" and len(token) == 1:
            depth -= 1
            if depth == max_depth and cut_from >= 0:
                parts += [text[kept_from:cut_from], marker]
                kept_from, cut_from = match.end(), -1
    parts.append(text[kept_from:])
    return "".join(parts)
