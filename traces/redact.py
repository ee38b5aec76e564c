"""Redaction and tokenisation of personal data before a span is stored: pure functions on plain data.

A ``Policy`` (built from a project's PrivacySettings by traces.privacy) says, per PII kind of traces.pii, what to
do with a match: keep it, **mask** it (``[EMAIL]``) or **tokenise** it (``[EMAIL:7f3a9c1d]``, the first 8 hex
digits of HMAC-SHA256(project secret, kind + normalised value): the same address always gives the same token in
a project, so traces can still be grouped and searched by it, and another project's tokens do not match). Custom
patterns (a name and a regex) do the same with ``[NAME]``. Attribute keys listed in ``drop_keys`` are removed
wherever they occur (span attributes, event attributes, nested maps). ``user_id`` and ``session_id`` are replaced
by keyed hashes (``u_`` / ``s_`` + 16 hex digits) in the span's columns and wherever their raw value appears as
an attribute value, so a raw id is never stored; a search by a raw id hashes it first (``id_token``).

``Redactor`` walks one span's texts and JSON values and counts the distinct values it replaced by kind, for
``Span.redactions`` (an answer stored in three fields counts once).

Cost: most strings a span carries hold no digit and no "@" (model names, roles, short labels) and are returned
after two C-level scans; only kinds whose action is not ``keep`` are looked for.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from re import _parser as sre_parse  # the stdlib's own regex parser: used to refuse catastrophic patterns
from typing import Any

from traces.pii import KINDS, MIN_DIGITS, digit_count, find_pii_matches

ACTIONS = ("keep", "mask", "tokenise")
LABELS = {"email": "EMAIL", "phone": "PHONE", "credit_card": "CARD", "iban": "IBAN", "ssn": "SSN", "ip": "IP"}
# New projects (and every project that existed before privacy settings): the safe defaults.
DEFAULT_ACTIONS = {"email": "mask", "credit_card": "mask", "ssn": "mask", "phone": "keep", "iban": "keep", "ip": "keep"}
TOKEN_HEX = 8  # in-text tokens: short to read; 32 bits keep tens of thousands of a project's values apart
ID_TOKEN_HEX = 16  # user and session ids: grouped and searched by, so collisions must be negligible
MAX_CUSTOM_PATTERNS = 20
MAX_PATTERN_CHARS = 300
MAX_DROP_KEYS = 100
PATTERN_PROBE_SECONDS = 0.05  # a custom pattern slower than this on the probe strings is refused
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class PolicyError(ValueError):
    """Settings that cannot be applied; the message says which and why (answered 400)."""


@dataclass(frozen=True)
class CustomPattern:
    name: str
    regex: re.Pattern
    action: str  # keep | mask | tokenise

    @property
    def label(self) -> str:
        return self.name.upper()


@dataclass(frozen=True)
class Policy:
    key: bytes = b""  # the project's HMAC key
    actions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    custom: tuple[CustomPattern, ...] = ()
    drop_keys: frozenset[str] = frozenset()
    hash_user_id: bool = True
    hash_session_id: bool = False

    @cached_property
    def kinds(self) -> frozenset[str]:
        return frozenset(k for k in KINDS if self.actions.get(k, "keep") != "keep")

    @property
    def active(self) -> bool:
        return bool(
            self.kinds
            or any(p.action != "keep" for p in self.custom)
            or self.drop_keys
            or self.hash_user_id
            or self.hash_session_id
        )


OFF = Policy(actions=dict.fromkeys(KINDS, "keep"), hash_user_id=False)


# --- Tokens ---


def normalise(kind: str, value: str) -> str:
    """One spelling per value, so 4111-1111-1111-1111 and 4111 1111 1111 1111 get the same token."""
    if kind == "email":
        return value.lower()
    if kind in ("credit_card", "ssn", "phone"):
        return "".join(ch for ch in value if ch.isdigit())
    if kind == "iban":
        return value.replace(" ", "").upper()
    return value


def token(key: bytes, kind: str, value: str, hex_digits: int = TOKEN_HEX) -> str:
    digest = hmac.new(key, f"{kind}\x1f{normalise(kind, value)}".encode(), hashlib.sha256).hexdigest()
    return digest[:hex_digits]


def id_token(key: bytes, what: str, value: str) -> str:
    """The stored form of a user id (what="user") or session id (what="session"): ``u_…`` / ``s_…``."""
    return f"{what[0]}_{token(key, what, value, ID_TOKEN_HEX)}"


def is_id_token(what: str, value: str) -> bool:
    return len(value) == ID_TOKEN_HEX + 2 and value.startswith(f"{what[0]}_")


# --- Settings validation ---


def _catastrophic(parsed, inside_repeat: bool = False) -> str | None:
    """Why a parsed regex could backtrack exponentially (a repeat inside a repeat, a back-reference), or None."""
    for op, av in parsed:
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            return "back-references are not allowed"
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi, sub = av
            repeats = hi is sre_parse.MAXREPEAT or hi > 1
            if repeats and inside_repeat and name != "POSSESSIVE_REPEAT":
                return "a repeated group contains another repeat (e.g. (a+)+): it can take exponential time"
            if why := _catastrophic(sub, inside_repeat or (repeats and name != "POSSESSIVE_REPEAT")):
                return why
        elif name == "SUBPATTERN":
            if why := _catastrophic(av[-1], inside_repeat):
                return why
        elif name == "BRANCH":
            for branch in av[1]:
                if why := _catastrophic(branch, inside_repeat):
                    return why
        elif name in ("ASSERT", "ASSERT_NOT", "ATOMIC_GROUP"):
            sub = av[-1] if isinstance(av, tuple) else av
            if why := _catastrophic(sub, inside_repeat):
                return why
    return None


_PROBE_UNITS = ("a", "0", " ", "-", "A.", "a@b.", "a1 ")
_PROBE_SIZES = (1_000, 4_000, 16_000)  # growing: a quadratic pattern is caught at 4,000, before it costs seconds


def compile_pattern(name: str, pattern: str, action: str = "mask") -> CustomPattern:
    """A custom pattern, or PolicyError with the reason: a bad name or action, a regex that does not compile,
    matches the empty string, uses back-references or nested repeats, or is slow on long probe strings."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise PolicyError(f"custom pattern name {name!r}: use 1-32 lowercase letters, digits or _, starting a-z")
    if action not in ACTIONS:
        raise PolicyError(f"custom pattern {name}: action must be one of {', '.join(ACTIONS)}")
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN_CHARS:
        raise PolicyError(f"custom pattern {name}: the regex must be 1-{MAX_PATTERN_CHARS} characters")
    try:
        regex = re.compile(pattern)
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise PolicyError(f"custom pattern {name}: the regex does not compile: {exc}") from None
    if why := _catastrophic(parsed):
        raise PolicyError(f"custom pattern {name}: {why}")
    if regex.search("") is not None:
        raise PolicyError(f"custom pattern {name}: the regex matches the empty string")
    for size in _PROBE_SIZES:
        started = time.perf_counter()
        for unit in _PROBE_UNITS:
            for _ in regex.finditer(unit * (size // len(unit)) + "!"):
                pass
        if time.perf_counter() - started > PATTERN_PROBE_SECONDS:
            raise PolicyError(f"custom pattern {name}: the regex is too slow on long texts (over {size:,} characters)")
    return CustomPattern(name=name, regex=regex, action=action)


def policy_build(
    *,
    key: bytes,
    actions: dict[str, str] | None = None,
    custom_patterns: Iterable[dict] = (),
    drop_keys: Iterable[str] = (),
    hash_user_id: bool = True,
    hash_session_id: bool = False,
) -> Policy:
    """A Policy from settings as stored (or as sent to the API); PolicyError says what is wrong."""
    actions = {**DEFAULT_ACTIONS, **(actions or {})}
    for kind, action in actions.items():
        if kind not in KINDS:
            raise PolicyError(f"unknown PII kind {kind!r}: the kinds are {', '.join(KINDS)}")
        if action not in ACTIONS:
            raise PolicyError(f"{kind}: action must be one of {', '.join(ACTIONS)}, not {action!r}")
    custom_patterns = list(custom_patterns)
    if len(custom_patterns) > MAX_CUSTOM_PATTERNS:
        raise PolicyError(f"at most {MAX_CUSTOM_PATTERNS} custom patterns")
    custom = []
    for item in custom_patterns:
        if not isinstance(item, dict):
            raise PolicyError("a custom pattern is an object with name, pattern and action")
        custom.append(compile_pattern(item.get("name", ""), item.get("pattern", ""), item.get("action", "mask")))
    names = [p.name for p in custom]
    if len(set(names)) != len(names) or set(names) & set(KINDS):
        raise PolicyError("custom pattern names must be unique and differ from the built-in kinds")
    drop = [k.strip() for k in drop_keys if isinstance(k, str) and k.strip()]
    if len(drop) > MAX_DROP_KEYS:
        raise PolicyError(f"at most {MAX_DROP_KEYS} attribute keys to drop")
    return Policy(
        key=key,
        actions=actions,
        custom=tuple(custom),
        drop_keys=frozenset(drop),
        hash_user_id=bool(hash_user_id),
        hash_session_id=bool(hash_session_id),
    )


# --- Applying a policy ---


class Redactor:
    """Applies one policy to the values of one span (or one log record), counting replacements by kind."""

    __slots__ = ("policy", "counts", "seen", "kinds", "custom", "ids", "drop", "email", "min_digits")

    def __init__(self, policy: Policy, ids: dict[str, str] | None = None) -> None:
        self.policy = policy
        # Distinct values replaced, by kind: a span repeats its answer in output_text, output_messages and the
        # attribute they were read from, and one address must read as one, not three.
        self.counts: dict[str, int] = {}
        self.seen: set[tuple[str, str]] = set()
        self.kinds = policy.kinds
        self.email = "email" in self.kinds
        # The fewest digits any enabled kind but email needs: a string with fewer and no "@" is not scanned.
        self.min_digits = min((MIN_DIGITS[k] for k in self.kinds if k != "email"), default=1 << 30)
        self.custom = [p for p in policy.custom if p.action != "keep"]
        self.ids = ids or {}  # raw user/session id -> its token, replaced wherever it appears whole
        self.drop = policy.drop_keys

    def _count(self, kind: str, value: str) -> None:
        if (kind, value) not in self.seen:
            self.seen.add((kind, value))
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def _replacement(self, kind: str, label: str, action: str, value: str) -> str:
        self._count(kind, normalise(kind, value))
        if action == "tokenise":
            return f"[{label}:{token(self.policy.key, kind, value)}]"
        return f"[{label}]"

    def text(self, value: str) -> str:
        if not value:
            return value
        if self.ids and value in self.ids:
            return self.ids[value]
        # Pre-checks, cheapest first: "@" is a memchr; ten str.count calls beat one regex scan for digits.
        if self.kinds and ((self.email and "@" in value) or digit_count(value) >= self.min_digits):
            matches = find_pii_matches(value, self.kinds)
            if matches:
                out, last = [], 0
                actions = self.policy.actions
                for kind, start, end, found in matches:
                    out += (value[last:start], self._replacement(kind, LABELS[kind], actions[kind], found))
                    last = end
                out.append(value[last:])
                value = "".join(out)
        for pattern in self.custom:
            if pattern.regex.search(value) is not None:
                value = pattern.regex.sub(
                    lambda m, p=pattern: self._replacement(p.name, p.label, p.action, m.group()), value
                )
        return value

    def value(self, value: Any) -> Any:
        """A JSON-like value with every string redacted and dropped keys removed, at any depth."""
        kind = type(value)  # exact types: JSON values are plain str, dict and list, and this runs per value
        if kind is str:
            return self.text(value) if value else value
        if kind is dict:
            walk = self.value
            if self.drop and not self.drop.isdisjoint(value):
                for k in self.drop.intersection(value):
                    self._count("dropped_key", k)
                return {k: walk(v) for k, v in value.items() if k not in self.drop}
            return {k: walk(v) for k, v in value.items()}
        if kind is list:
            walk = self.value
            return [walk(v) for v in value]
        if isinstance(value, str):  # a str subclass
            return self.text(value)
        return value


def redact_span(policy: Policy, raw, norm, shared: dict | None = None):
    """(raw, norm, counts): the RawSpan and its NormalizedSpan, changed in place, with the policy applied to every text the
    span carries (its name, inputs, outputs, messages, documents, tool name, arguments and results, error, attributes
    at any depth, events, resource) and user_id / session_id hashed; counts is {kind: replacements} for Span.redactions.
    ``shared`` (one dict per batch) lets spans that share a resource dict share its redacted copy."""
    ids: dict[str, str] = {}
    user_id, session_id = norm.user_id, norm.session_id
    if policy.hash_user_id and user_id and not is_id_token("user", user_id):
        user_id = ids[norm.user_id] = id_token(policy.key, "user", norm.user_id)
    if policy.hash_session_id and session_id and not is_id_token("session", session_id):
        session_id = ids[norm.session_id] = id_token(policy.key, "session", norm.session_id)
    r = Redactor(policy, ids)
    text, value = r.text, r.value
    # In place: they are the batch's own objects, made by the decoder and normalize for this request, and
    # dataclasses.replace cost a third of redaction's time.
    norm.input_text = text(norm.input_text)
    norm.output_text = text(norm.output_text)
    norm.input_messages = value(norm.input_messages)
    norm.output_messages = value(norm.output_messages)
    norm.documents = value(norm.documents)
    norm.tool_name = text(norm.tool_name)
    norm.tool_arguments = text(norm.tool_arguments)
    norm.tool_result = text(norm.tool_result)
    norm.error = text(norm.error)
    norm.user_id, norm.session_id = user_id, session_id
    raw.name = text(raw.name)
    raw.attributes = value(raw.attributes)
    raw.events = value(raw.events)
    if shared is None:
        raw.resource = value(raw.resource)
    else:
        # The decoder gives every span of a resource block the same dict: redacted once a batch, not per span.
        key = id(raw.resource)
        if key not in shared:
            shared[key] = (raw.resource, value(raw.resource))  # the original is kept, so its id is not reused
        raw.resource = shared[key][1]
    return raw, norm, r.counts
