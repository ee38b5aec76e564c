"""Property: whatever hostile spans a batch holds, ingest never answers 5xx and every valid span of it is stored.

Hypothesis builds batches of two valid spans and a few hostile ones (NUL and lone surrogates anywhere, integers of
any size, NaN and infinities, absurd times, values nested thousands of levels deep) and posts them on the three
paths. Each hostile span must then be stored (cleaned) or reported as rejected: none vanishes silently.
"""

import json
import secrets
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList

from tests.otlp_payloads import json_span, pb_request, pb_span
from traces.models import Span

PB, JSON = "application/x-protobuf", "application/json"
DEEP = "@@deep@@"  # replaced in the body's text by a value nested `levels` deep (json.dumps cannot write one)

chars = st.one_of(st.sampled_from(["\x00", "\ud800", "\udfff", "é", "😀", "a", "[", '"']), st.characters())
texts = st.text(alphabet=chars, max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), texts)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=8
)
now = time.time()
seconds = st.one_of(
    st.floats(now - 86_400, now),  # plausible
    st.sampled_from([1e12, now * 1e3, now * 1e6, 1e300, 5e-6, 946_684_799.0, 9.3e9]),  # wrong units, edges
    st.floats(min_value=1e-9, max_value=1e30),
)
hostile_spans = st.fixed_dictionaries(
    {
        "name": texts.filter(lambda t: t.strip()),
        "attributes": st.dictionaries(texts, values, max_size=5),
        "start": seconds,
        "duration": st.floats(0, 10),
        "tokens": st.integers(),
        "deep": st.sampled_from([0, 0, 40, 3000]),
    }
)


def deep_text(levels: int, kvlist: bool) -> str:
    if kvlist:
        return '{"kvlistValue": {"values": [{"key": "k", "value": ' * levels + '{"intValue": "1"}' + "}]}}" * levels
    return "[" * levels + "1" + "]" * levels


# ------------------------------------------------------------------------------------------- three encodings


def ns(seconds: float) -> int:
    return int(seconds) * 10**9 + int(seconds % 1 * 1e9)  # seconds * 1e9 overflows a float for 1e300


def otlp_any(value) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [otlp_any(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": otlp_any(v)} for k, v in value.items()]}}
    return {} if value is None else {"stringValue": value}


def otlp_json_body(valid: list[dict], hostile: list[dict]) -> bytes:
    spans = list(valid)
    for h in hostile:
        attrs = {**h["attributes"], "gen_ai.usage.input_tokens": h["tokens"]}
        span = json_span(
            trace_id=secrets.token_hex(16),
            span_id=h["span_id"],
            name=h["name"],
            startTimeUnixNano=str(ns(h["start"])),
            endTimeUnixNano=str(ns(h["start"] + h["duration"])),
            attributes=[{"key": k, "value": otlp_any(v)} for k, v in attrs.items()],
        )
        if h["deep"]:
            span["attributes"].append({"key": "deep", "value": DEEP})
        spans.append(span)
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}
    return _inject_deep(json.dumps(body), hostile, kvlist=True)


def _inject_deep(text: str, hostile: list[dict], kvlist: bool) -> bytes:
    for h in hostile:
        if h["deep"]:
            text = text.replace(json.dumps(DEEP), deep_text(h["deep"], kvlist), 1)
    return text.encode()


def pb_text(value: str) -> str:
    return value.encode("utf-8", "replace").decode()  # protobuf strings are UTF-8: no lone surrogate gets there


def pb_any(value, depth: int = 0) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=max(min(value, 2**63 - 1), -(2**63)))  # int64 on the wire
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[pb_any(v) for v in value]))
    if isinstance(value, dict):
        kvs = [KeyValue(key=pb_text(k), value=pb_any(v)) for k, v in value.items()]
        return AnyValue(kvlist_value=KeyValueList(values=kvs))
    return AnyValue() if value is None else AnyValue(string_value=pb_text(value))


def pb_body(valid: list, hostile: list[dict]) -> bytes:
    spans = list(valid)
    for h in hostile:
        span = pb_span(trace_id=secrets.token_hex(16), span_id=h["span_id"], name=pb_text(h["name"]))
        span.start_time_unix_nano = min(ns(h["start"]), 2**64 - 1)
        span.end_time_unix_nano = min(ns(h["start"] + h["duration"]), 2**64 - 1)
        for key, value in {**h["attributes"], "gen_ai.usage.input_tokens": h["tokens"]}.items():
            span.attributes.add(key=pb_text(key), value=pb_any(value))
        spans.append(span)
    return pb_request(spans).SerializeToString()


def peekr_body(valid: list[dict], hostile: list[dict]) -> bytes:
    spans = list(valid)
    for h in hostile:
        attrs = {**h["attributes"], "tokens_input": h["tokens"], "model": "gpt-4o"}
        if h["deep"]:
            attrs["deep"] = DEEP
        start = h["start"]
        spans.append(
            {
                "name": h["name"],
                "trace_id": uuid.uuid4().hex,
                "span_id": h["span_id"],
                "start_time": start,
                "end_time": start + h["duration"],
                "attributes": attrs,
                "status": "ok",
            }
        )
    return _inject_deep(json.dumps({"spans": spans}), hostile, kvlist=False)


def post(client, path: str, body: bytes, key: str, content_type: str):
    return client.post(path, data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}")


def rejected_count(path: str, resp) -> int:
    if path == "/v1/spans":
        return len(resp.json()["rejected"])
    if resp["Content-Type"] == PB:
        return ExportTraceServiceResponse.FromString(resp.content).partial_success.rejected_spans
    return int(json.loads(resp.content or b"{}").get("partialSuccess", {}).get("rejectedSpans", 0))


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    path=st.sampled_from(["otlp json", "otlp protobuf", "peekr"]),
    hostile=st.lists(hostile_spans, min_size=1, max_size=3),
)
def test_hostile_spans_never_cost_the_valid_ones(client, project, api_key, path, hostile):
    for h in hostile:
        h["span_id"] = uuid.uuid4().hex if path == "peekr" else secrets.token_hex(8)
    if path == "peekr":
        valid = [{**_valid_sdk_span(), "name": f"valid-{i}"} for i in range(2)]
        url, content_type, body = "/v1/spans", JSON, peekr_body(valid, hostile)
        valid_ids = [s["span_id"] for s in valid]
    elif path == "otlp json":
        tid = secrets.token_hex(16)
        valid = [json_span(trace_id=tid, span_id=secrets.token_hex(8), name=f"valid-{i}") for i in range(2)]
        url, content_type, body = "/v1/traces", JSON, otlp_json_body(valid, hostile)
        valid_ids = [s["spanId"] for s in valid]
    else:
        tid = secrets.token_hex(16)
        valid = [pb_span(trace_id=tid, name=f"valid-{i}") for i in range(2)]
        url, content_type, body = "/v1/traces", PB, pb_body(valid, hostile)
        valid_ids = [s.span_id.hex() for s in valid]

    resp = post(client, url, body, api_key, content_type)

    assert resp.status_code == 200, resp.content[:500]
    stored = set(
        Span.objects.filter(span_id__in=valid_ids + [h["span_id"] for h in hostile]).values_list("span_id", flat=True)
    )
    assert set(valid_ids) <= stored
    assert len(stored) - len(valid_ids) + rejected_count(url, resp) == len(hostile)


def _valid_sdk_span() -> dict:
    start = time.time() - 5
    return {
        "name": "valid",
        "trace_id": uuid.uuid4().hex,
        "span_id": uuid.uuid4().hex,
        "start_time": start,
        "end_time": start + 1,
        "attributes": {"model": "gpt-4o-mini"},
        "status": "ok",
    }
