"""Load the captured OTLP payloads (tests/fixtures/otlp, a copy of shared/fixtures/otlp) and run them through the decoder and normalisers."""

from __future__ import annotations

from tests.otlp_payloads import fixture_bytes, fixtures_dir
from traces.normalize import apply_log_events, normalize
from traces.normalize.types import NormalizedSpan, RawSpan
from traces.otlp import JSON, PROTOBUF, decode_logs_request, decode_traces_request


def trace_fixtures() -> list[str]:
    """Names (without extension) of every captured trace export."""
    return sorted(p.stem for p in fixtures_dir().glob("*.pb") if not p.name.endswith(".logs.pb"))


def log_fixtures() -> list[str]:
    return sorted(p.name.removesuffix(".pb") for p in fixtures_dir().glob("*.logs.pb"))


def raw_spans(name: str, encoding: str = "pb") -> list[RawSpan]:
    body = fixture_bytes(f"{name}.{encoding}")
    spans, errors = decode_traces_request(body, PROTOBUF if encoding == "pb" else JSON)
    assert errors == []
    return spans


def normalized(
    name: str, *, with_logs: bool = False, prices: dict | None = None
) -> list[tuple[RawSpan, NormalizedSpan]]:
    """(raw, normalised) for each span of a fixture, in the order they were sent; log events merged on request."""
    events = decode_logs_request(fixture_bytes(f"{name}.logs.pb"), PROTOBUF) if with_logs else []
    out = []
    for raw in raw_spans(name):
        norm = normalize(raw, prices=prices)
        mine = [e for e in events if e.span_id == raw.span_id]
        out.append((raw, apply_log_events(norm, mine) if mine else norm))
    return out


def by_name(pairs: list[tuple[RawSpan, NormalizedSpan]], name: str) -> list[NormalizedSpan]:
    return [norm for raw, norm in pairs if raw.name == name]


def one(pairs: list[tuple[RawSpan, NormalizedSpan]], name: str) -> NormalizedSpan:
    found = by_name(pairs, name)
    assert len(found) == 1, f"{len(found)} spans named {name!r}"
    return found[0]
