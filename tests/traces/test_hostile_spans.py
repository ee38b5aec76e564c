"""One poisoned span never costs its batch: each is cleaned or rejected with a reason, and the rest are stored.

Every case posts [valid, poisoned, valid] on one of the three ingest paths (OTLP/JSON, OTLP/protobuf, the Peekr
SDK's JSON) and re-reads the database.
"""

import json
import secrets
import time
import uuid

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.otlp_payloads import json_request, json_span, pb_request, pb_span
from tests.traces.test_peekr_spans_endpoint import sdk_span
from traces.models import LogEvent, Span

PB, JSON = "application/x-protobuf", "application/json"
BIG = 2**70  # beyond bigint
MARKER = "nested deeper than"


def deep_json_value(levels: int, kind: str) -> str:
    """An OTLP/JSON AnyValue nested ``levels`` deep, as text (json.dumps itself cannot write it)."""
    if kind == "kvlist":
        head, tail = '{"kvlistValue": {"values": [{"key": "k", "value": ', "}]}}"
    else:
        head, tail = '{"arrayValue": {"values": [', "]}}"
    return head * levels + '{"stringValue": "bottom"}' + tail * levels


def deep_plain(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


def post(client, path: str, body: bytes, key: str, content_type: str = JSON):
    return client.post(path, data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}")


def otlp_json_batch(poisoned: dict | str) -> tuple[bytes, list[str]]:
    """A body with a valid span, the poisoned one (a dict, or JSON text for what json.dumps cannot write), a valid one."""
    trace_id = secrets.token_hex(16)
    valid = [json_span(trace_id=trace_id, span_id=secrets.token_hex(8), name=f"valid-{i}") for i in range(2)]
    body = json_request([valid[0], {"__poison__": 1}, valid[1]]).decode()
    text = poisoned if isinstance(poisoned, str) else json.dumps(poisoned)
    return body.replace('{"__poison__": 1}', text).encode(), [s["spanId"] for s in valid]


def poisoned_json_span(**extra) -> dict:
    return json_span(trace_id=secrets.token_hex(16), span_id=secrets.token_hex(8), name="poisoned", **extra)


def attr(key: str, value: dict) -> list[dict]:
    return [{"key": key, "value": value}]


def assert_valid_stored(project, span_ids: list[str]) -> None:
    stored = set(Span.objects.filter(project=project).values_list("span_id", flat=True))
    assert set(span_ids) <= stored


def otlp_partial(resp) -> tuple[int, str]:
    if resp["Content-Type"] == PB:
        partial = ExportTraceServiceResponse.FromString(resp.content).partial_success
        return partial.rejected_spans, partial.error_message
    partial = json.loads(resp.content or b"{}").get("partialSuccess", {})
    return int(partial.get("rejectedSpans", 0)), partial.get("errorMessage", "")


# ------------------------------------------------------------------------------------------- OTLP/JSON: cleaned

CLEANED_JSON = {
    "nul in a key": (dict(attributes=attr("a\x00b", {"stringValue": "v"})), "a\ufffdb", "v"),
    "nul in a value": (dict(attributes=attr("k", {"stringValue": "a\x00b"})), "k", "a\ufffdb"),
    "lone surrogate in a value": (dict(attributes=attr("k", {"stringValue": "x\ud800y"})), "k", "x\ufffdy"),
    "lone surrogate in a key": (dict(attributes=attr("k\udfff", {"stringValue": "v"})), "k\ufffd", "v"),
    "int beyond bigint": (dict(attributes=attr("n", {"intValue": str(BIG)})), "n", str(BIG)),
    "nan double": (dict(attributes=attr("f", {"doubleValue": "NaN"})), "f", None),
    "infinite double": (dict(attributes=attr("f", {"doubleValue": "Infinity"})), "f", None),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", CLEANED_JSON, ids=list(CLEANED_JSON))
def test_otlp_json_poisoned_attributes_are_cleaned_and_the_batch_stored(client, project, api_key, case):
    extra, key, value = CLEANED_JSON[case]
    poisoned = poisoned_json_span(**extra)
    body, valid = otlp_json_batch(poisoned)

    resp = post(client, "/v1/traces", body, api_key)

    assert resp.status_code == 200
    assert otlp_partial(resp) == (0, "")
    assert_valid_stored(project, valid)
    assert Span.objects.get(project=project, span_id=poisoned["spanId"]).attributes[key] == value


@pytest.mark.django_db
def test_otlp_json_nul_and_surrogate_in_the_span_name_are_cleaned(client, project, api_key):
    poisoned = poisoned_json_span()
    poisoned["name"] = "chat\x00\ud800"
    body, valid = otlp_json_batch(poisoned)

    assert post(client, "/v1/traces", body, api_key).status_code == 200

    assert_valid_stored(project, valid)
    assert Span.objects.get(project=project, span_id=poisoned["spanId"]).name == "chat\ufffd\ufffd"


@pytest.mark.django_db
def test_otlp_json_token_counts_beyond_the_column_are_kept_only_as_attributes(client, project, api_key):
    usage = [
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(BIG)}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "99999999999"}},
    ]
    poisoned = poisoned_json_span()
    poisoned["attributes"] += usage
    body, valid = otlp_json_batch(poisoned)

    assert post(client, "/v1/traces", body, api_key).status_code == 200

    assert_valid_stored(project, valid)
    stored = Span.objects.get(project=project, span_id=poisoned["spanId"])
    assert (stored.input_tokens, stored.output_tokens) == (None, None)
    assert stored.attributes["gen_ai.usage.output_tokens"] == 99999999999
    assert stored.attributes["gen_ai.usage.input_tokens"] == str(BIG)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["kvlist", "array"])
def test_otlp_json_nesting_5000_levels_deep_is_cut_and_the_batch_stored(client, project, api_key, kind):
    span = poisoned_json_span(attributes=attr("deep", {"stringValue": "@@"}))
    span_id = span["spanId"]
    poisoned = json.dumps(span).replace(json.dumps({"stringValue": "@@"}), deep_json_value(5000, kind))
    body, valid = otlp_json_batch(poisoned)

    resp = post(client, "/v1/traces", body, api_key)

    assert resp.status_code == 200
    assert_valid_stored(project, valid)
    stored = json.dumps(Span.objects.get(project=project, span_id=span_id).attributes["deep"])
    assert MARKER in stored
    assert "bottom" not in stored


@pytest.mark.django_db
def test_otlp_json_span_kind_out_of_range_is_stored_as_unspecified(client, project, api_key):
    poisoned = poisoned_json_span(kind=99999)
    body, valid = otlp_json_batch(poisoned)

    assert post(client, "/v1/traces", body, api_key).status_code == 200

    assert_valid_stored(project, valid)
    assert Span.objects.get(project=project, span_id=poisoned["spanId"]).otel_kind == 0


# ------------------------------------------------------------------------------------------ OTLP/JSON: rejected

BAD_TIMES = {
    "start in seconds given as a float": {"startTimeUnixNano": 1e30, "endTimeUnixNano": 2e30},
    "negative start": {"startTimeUnixNano": "-5", "endTimeUnixNano": "10"},
    "milliseconds instead of nanoseconds": {"startTimeUnixNano": "1764950000000", "endTimeUnixNano": "1764950000500"},
    "end beyond int64 nanoseconds": {"endTimeUnixNano": str(2**64 + 1)},
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", BAD_TIMES, ids=list(BAD_TIMES))
def test_otlp_json_times_out_of_range_reject_that_span_with_a_reason(client, project, api_key, case):
    poisoned = poisoned_json_span(**BAD_TIMES[case])
    body, valid = otlp_json_batch(poisoned)

    resp = post(client, "/v1/traces", body, api_key)

    assert resp.status_code == 200
    rejected, message = otlp_partial(resp)
    assert rejected == 1
    assert "out of range" in message and poisoned["spanId"] in message
    assert_valid_stored(project, valid)
    assert not Span.objects.filter(span_id=poisoned["spanId"]).exists()


# ---------------------------------------------------------------------------------------------- OTLP/protobuf


def pb_batch(poisoned) -> tuple[bytes, list[str]]:
    trace_id = secrets.token_hex(16)
    valid = [pb_span(trace_id=trace_id, name=f"valid-{i}") for i in range(2)]
    return pb_request([valid[0], poisoned, valid[1]]).SerializeToString(), [s.span_id.hex() for s in valid]


@pytest.mark.django_db
def test_protobuf_nul_in_key_value_and_name_is_cleaned_and_the_batch_stored(client, project, api_key):
    poisoned = pb_span(trace_id=secrets.token_hex(16), name="chat\x00", attributes={"a\x00b": "c\x00d"})
    body, valid = pb_batch(poisoned)

    resp = post(client, "/v1/traces", body, api_key, PB)

    assert resp.status_code == 200
    assert otlp_partial(resp) == (0, "")
    assert_valid_stored(project, valid)
    stored = Span.objects.get(project=project, span_id=poisoned.span_id.hex())
    assert stored.name == "chat\ufffd"
    assert stored.attributes["a\ufffdb"] == "c\ufffdd"


@pytest.mark.django_db
def test_protobuf_token_counts_beyond_the_column_and_a_wild_kind_are_stored_safely(client, project, api_key):
    attributes = {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 2**62}
    poisoned = pb_span(trace_id=secrets.token_hex(16), name="chat", attributes=attributes, kind=70000)
    body, valid = pb_batch(poisoned)

    assert post(client, "/v1/traces", body, api_key, PB).status_code == 200

    assert_valid_stored(project, valid)
    stored = Span.objects.get(project=project, span_id=poisoned.span_id.hex())
    assert stored.input_tokens is None and stored.attributes["gen_ai.usage.input_tokens"] == 2**62
    assert stored.otel_kind == 0


@pytest.mark.django_db
@pytest.mark.parametrize("start_ns", [2**64 - 1, 1_764_950_000_000, 5])
def test_protobuf_times_out_of_range_reject_that_span_with_a_reason(client, project, api_key, start_ns):
    poisoned = pb_span(trace_id=secrets.token_hex(16), name="bad-time")
    poisoned.start_time_unix_nano = start_ns
    poisoned.end_time_unix_nano = start_ns
    body, valid = pb_batch(poisoned)

    resp = post(client, "/v1/traces", body, api_key, PB)

    assert resp.status_code == 200
    rejected, message = otlp_partial(resp)
    assert rejected == 1 and "out of range" in message
    assert_valid_stored(project, valid)
    assert not Span.objects.filter(span_id=poisoned.span_id.hex()).exists()


# ---------------------------------------------------------------------------------------------- Peekr SDK JSON


def peekr_batch(poisoned: dict | str) -> tuple[bytes, list[str]]:
    valid = [sdk_span(name=f"valid-{i}") for i in range(2)]
    body = json.dumps({"spans": [valid[0], "__poison__", valid[1]]})
    text = poisoned if isinstance(poisoned, str) else json.dumps(poisoned)
    return body.replace('"__poison__"', text).encode(), [s["span_id"] for s in valid]


PEEKR_CLEANED = {
    "nul in a key": ({"a\x00b": "v"}, "a\ufffdb", "v"),
    "nul in a value": ({"input": "a\x00b"}, "input", "a\ufffdb"),
    "lone surrogate in a value": ({"output": "\ud800"}, "output", "\ufffd"),
    "lone surrogate in a key": ({"\udc00": 1}, "\ufffd", 1),
    "int beyond bigint": ({"n": BIG}, "n", str(BIG)),
    "nan": ({"f": float("nan")}, "f", None),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", PEEKR_CLEANED, ids=list(PEEKR_CLEANED))
def test_peekr_poisoned_attributes_are_cleaned_and_the_batch_stored(client, project, api_key, case):
    attributes, key, value = PEEKR_CLEANED[case]
    poisoned = sdk_span(name="poisoned", attributes=attributes)
    body, valid = peekr_batch(poisoned)

    resp = post(client, "/v1/spans", body, api_key)

    assert resp.status_code == 200
    assert resp.json() == {"accepted": 3, "rejected": []}
    assert_valid_stored(project, valid)
    assert Span.objects.get(project=project, span_id=poisoned["span_id"]).attributes[key] == value


@pytest.mark.django_db
def test_peekr_token_counts_beyond_bigint_are_kept_only_as_attributes(client, project, api_key):
    poisoned = sdk_span(name="openai.chat", attributes={"model": "gpt-4o", "tokens_input": BIG, "tokens_output": 2**40})
    poisoned["name"] = "openai.chat\x00"
    body, valid = peekr_batch(poisoned)

    assert post(client, "/v1/spans", body, api_key).json()["accepted"] == 3

    assert_valid_stored(project, valid)
    stored = Span.objects.get(project=project, span_id=poisoned["span_id"])
    assert (stored.input_tokens, stored.output_tokens, stored.name) == (None, None, "openai.chat\ufffd")


@pytest.mark.django_db
def test_peekr_attributes_nested_5000_levels_are_cut_and_the_batch_stored(client, project, api_key):
    span_id = uuid.uuid4().hex
    poisoned = json.dumps(sdk_span(name="deep", span_id=span_id, attributes={"deep": "@@"}))
    body, valid = peekr_batch(poisoned.replace('"@@"', deep_plain(5000)))

    resp = post(client, "/v1/spans", body, api_key)

    assert resp.status_code == 200 and resp.json()["accepted"] == 3
    assert_valid_stored(project, valid)
    assert MARKER in json.dumps(Span.objects.get(project=project, span_id=span_id).attributes["deep"])


PEEKR_BAD_TIMES = {
    "milliseconds instead of seconds": {"start_time": 1e12, "end_time": 1e12 + 5},
    "microseconds instead of seconds": {"start_time": time.time() * 1e6, "end_time": None},
    "a huge end": {"end_time": 1e300},
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", PEEKR_BAD_TIMES, ids=list(PEEKR_BAD_TIMES))
def test_peekr_times_out_of_range_reject_that_span_with_a_reason(client, project, api_key, case):
    poisoned = sdk_span(**PEEKR_BAD_TIMES[case])
    body, valid = peekr_batch(poisoned)

    resp = post(client, "/v1/spans", body, api_key)

    assert resp.status_code == 200
    answer = resp.json()
    assert answer["accepted"] == 2
    assert [r["span_id"] for r in answer["rejected"]] == [poisoned["span_id"]]
    assert "out of range" in answer["rejected"][0]["reason"]
    assert_valid_stored(project, valid)


# ---------------------------------------------------------------------------------------------------- logs


@pytest.mark.django_db
def test_poisoned_log_records_are_cleaned_and_the_others_stored(client, project, api_key):
    def record(span_id: str, **extra) -> dict:
        base = {
            "timeUnixNano": str(time.time_ns()),
            "traceId": secrets.token_hex(16),
            "spanId": span_id,
            "eventName": "gen_ai.user.message",
            "body": {"kvlistValue": {"values": [{"key": "content", "value": {"stringValue": "hi"}}]}},
        }
        return {**base, **extra}

    ids = [secrets.token_hex(8) for _ in range(4)]
    records = [
        record(ids[0]),
        record(ids[1], timeUnixNano=str(2**70), attributes=attr("a\x00b", {"intValue": str(BIG)})),
        record(ids[2], body={"stringValue": "x\ud800\x00"}),
        "@@deep@@",
    ]
    text = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]})
    deep = json.dumps(record(ids[3], body={"stringValue": "@@"})).replace(
        '{"stringValue": "@@"}', deep_json_value(5000, "kvlist")
    )
    text = text.replace('"@@deep@@"', deep)

    resp = post(client, "/v1/logs", text.encode(), api_key)

    assert resp.status_code == 200
    stored = {e.span_id: e for e in LogEvent.objects.filter(project=project)}
    assert set(stored) == set(ids)
    assert stored[ids[1]].time_ns == 0
    assert stored[ids[1]].attributes == {"a\ufffdb": str(BIG)}
    assert stored[ids[2]].body == "x\ufffd\ufffd"
    assert MARKER in json.dumps(stored[ids[3]].body)
