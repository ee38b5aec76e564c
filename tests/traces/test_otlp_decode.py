import base64
import json

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from tests.traces.fixtures import fixture_bytes, log_fixtures, raw_spans, trace_fixtures
from traces.otlp import (
    JSON,
    PROTOBUF,
    LogEvent,
    OTLPDecodeError,
    decode_logs_request,
    decode_traces_request,
    encode_partial_success,
)

TRACE_ID = "5b8efff798038103d269b633813fc60c"
START = 1795315283915921635


def json_body(*groups) -> bytes:
    return json.dumps({"resourceSpans": list(groups)}).encode()


def json_group(*spans, service="checkout", scope="my.lib") -> dict:
    return {
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": scope, "version": "2.0"}, "spans": list(spans)}],
    }


def json_span(span_id: str, name: str = "span", trace_id: str = TRACE_ID, **extra) -> dict:
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 2,
        "startTimeUnixNano": str(START),
        "endTimeUnixNano": str(START + 250_000_000),
    }
    span.update(extra)
    return span


@pytest.mark.parametrize("name", trace_fixtures())
def test_every_protobuf_fixture_decodes_to_the_same_spans_as_its_json_twin(name):
    from_pb = raw_spans(name, "pb")
    from_json = raw_spans(name, "json")

    assert from_pb
    assert from_pb == from_json


@pytest.mark.parametrize("name", log_fixtures())
def test_every_logs_fixture_decodes_the_same_from_protobuf_and_json(name):
    from_pb = decode_logs_request(fixture_bytes(f"{name}.pb"), PROTOBUF)
    from_json = decode_logs_request(fixture_bytes(f"{name}.json"), JSON)

    assert from_pb
    assert from_pb == from_json


def test_resource_attributes_scope_and_ids_are_on_each_span():
    spans = {s.name: s for s in raw_spans("openinference__rag")}

    chat = spans["ChatCompletion"]
    assert chat.trace_id == "ad006add935670eb06de3c30b350856a"
    assert chat.span_id == "8d78cfec6fbeeab3"
    assert chat.parent_span_id == "1fa84b6fd484b15d"
    assert spans["rag.answer"].parent_span_id is None
    assert chat.resource["service.name"] == "fixture-openinference"
    assert chat.resource["deployment.environment"] == "fixtures"
    assert (chat.scope_name, chat.scope_version) == ("openinference.instrumentation.openai", "0.1.66")
    assert (spans["retrieve"].scope_name, spans["retrieve"].scope_version) == ("fixture.app", "1.0.0")
    assert chat.kind == 1 and chat.status_code == 1
    assert chat.start_ns == 1795315283956463708 and chat.end_ns == 1795315283970680124
    assert chat.attributes["llm.token_count.prompt"] == 42
    assert spans["retrieve"].attributes["retrieval.documents.0.document.score"] == 0.91
    assert spans["retrieve"].attributes["tag.tags"] == ["fixture", "rag"]
    assert chat.source == "otlp"


def test_span_events_keep_their_name_time_and_attributes():
    (span,) = raw_spans("traceloop__error")

    (event,) = span.events
    assert event["name"] == "exception"
    assert event["time_ns"] > span.start_ns
    assert event["attributes"]["exception.type"] == "openai.InternalServerError"
    assert event["attributes"]["exception.message"] == "Error code: 500 - fake status 500"
    assert span.status_code == 2 and span.status_message == "Error code: 500 - fake status 500"


def test_an_empty_array_attribute_stays_an_empty_list():
    (span,) = raw_spans("traceloop-legacy__chat")
    assert span.attributes["llm.request.reasoning_effort"] == []
    assert span.attributes["llm.is_streaming"] is False


def test_it_accepts_otlp_json_with_hex_ids_and_string_int64():
    body = json_body(
        json_group(
            json_span(
                "eee19b7ec3c1b174",
                "GET /chat",
                attributes=[
                    {"key": "http.status_code", "value": {"intValue": "200"}},
                    {"key": "retries", "value": {"intValue": 3}},
                ],
            )
        )
    )

    (span,), errors = decode_traces_request(body, JSON)

    assert errors == []
    assert span.trace_id == TRACE_ID and span.span_id == "eee19b7ec3c1b174"
    assert span.start_ns == START and span.end_ns == START + 250_000_000
    assert span.kind == 2
    assert span.attributes == {"http.status_code": 200, "retries": 3}
    assert span.resource == {"service.name": "checkout"}
    assert (span.scope_name, span.scope_version) == ("my.lib", "2.0")


def test_it_decodes_every_kind_of_any_value_from_json():
    attributes = [
        {"key": "s", "value": {"stringValue": "text"}},
        {"key": "i", "value": {"intValue": "9007199254740993"}},
        {"key": "d", "value": {"doubleValue": 0.25}},
        {"key": "b", "value": {"boolValue": True}},
        {"key": "raw", "value": {"bytesValue": base64.b64encode(b"\x00\x01").decode()}},
        {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}}},
        {
            "key": "kv",
            "value": {"kvlistValue": {"values": [{"key": "role", "value": {"stringValue": "user"}}]}},
        },
        {"key": "empty", "value": {}},
    ]
    (span,), _ = decode_traces_request(
        json_body(json_group(json_span("eee19b7ec3c1b174", attributes=attributes))), JSON
    )

    assert span.attributes == {
        "s": "text",
        "i": 9007199254740993,
        "d": 0.25,
        "b": True,
        "raw": b"\x00\x01",
        "arr": ["a", 2],
        "kv": {"role": "user"},
        "empty": None,
    }


def test_it_decodes_every_kind_of_any_value_from_protobuf():
    span = Span(
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=bytes.fromhex("eee19b7ec3c1b174"),
        name="s",
        start_time_unix_nano=START,
        end_time_unix_nano=START + 1,
        attributes=[
            KeyValue(key="raw", value=AnyValue(bytes_value=b"\x00\x01")),
            KeyValue(key="n", value=AnyValue(int_value=-5)),
            KeyValue(
                key="kv", value=AnyValue(kvlist_value={"values": [KeyValue(key="a", value=AnyValue(double_value=1.5))]})
            ),
            KeyValue(key="arr", value=AnyValue(array_value={"values": [AnyValue(bool_value=False)]})),
            KeyValue(key="unset", value=AnyValue()),
        ],
    )
    body = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])])

    (raw,), _ = decode_traces_request(body.SerializeToString(), PROTOBUF)

    assert raw.attributes == {"raw": b"\x00\x01", "n": -5, "kv": {"a": 1.5}, "arr": [False], "unset": None}


def test_it_tolerates_base64_ids_snake_case_keys_and_enum_names():
    span = {
        "trace_id": base64.b64encode(bytes.fromhex(TRACE_ID)).decode(),
        "span_id": base64.b64encode(bytes.fromhex("eee19b7ec3c1b174")).decode(),
        "parent_span_id": "",
        "name": "legacy",
        "kind": "SPAN_KIND_CLIENT",
        "start_time_unix_nano": START,
        "end_time_unix_nano": START + 10,
        "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
    }
    body = json.dumps({"resource_spans": [{"scope_spans": [{"spans": [span]}]}]}).encode()

    (raw,), errors = decode_traces_request(body, JSON)

    assert errors == []
    assert raw.trace_id == TRACE_ID and raw.span_id == "eee19b7ec3c1b174" and raw.parent_span_id is None
    assert raw.kind == 3 and raw.status_code == 2 and raw.status_message == "boom"


def test_a_batch_with_a_bad_trace_id_and_a_backwards_span_gives_two_span_errors_and_keeps_the_rest():
    good = json_span("1111111111111111", "good")
    zero_trace = json_span("2222222222222222", "zero-trace", trace_id="0" * 32)
    backwards = json_span("3333333333333333", "backwards")
    backwards["endTimeUnixNano"] = str(START - 1)
    also_good = json_span("4444444444444444", "also-good")
    body = json_body(json_group(good, zero_trace), json_group(backwards, also_good, service="other"))

    spans, errors = decode_traces_request(body, JSON)

    assert [s.name for s in spans] == ["good", "also-good"]
    assert spans[1].resource == {"service.name": "other"}
    assert [(e.index, e.name, e.span_id) for e in errors] == [
        (1, "zero-trace", "2222222222222222"),
        (2, "backwards", "3333333333333333"),
    ]
    assert "trace id" in errors[0].reason
    assert errors[1].reason == "the span ends before it starts"
    assert errors[1].trace_id == TRACE_ID


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"spanId": "00" * 8}, "invalid span id"),
        ({"spanId": "abc"}, "invalid span id"),
        ({"traceId": "xyz" * 10}, "invalid trace id"),
        ({"traceId": TRACE_ID[:16]}, "invalid trace id"),
        ({"name": ""}, "the span has no name"),
        ({"startTimeUnixNano": "0"}, "the span has no start time"),
        ({"parentSpanId": "123"}, "invalid parent span id"),
        ({"attributes": "not a list"}, "malformed span"),
    ],
)
def test_an_invalid_json_span_is_reported_with_a_reason(change, reason):
    bad = json_span("1111111111111111", "bad")
    bad.update(change)
    spans, errors = decode_traces_request(json_body(json_group(bad, json_span("2222222222222222", "ok"))), JSON)

    assert [s.name for s in spans] == ["ok"]
    (error,) = errors
    assert error.index == 0
    assert error.reason.startswith(reason)


def test_invalid_protobuf_spans_are_reported_one_by_one():
    def span(**kw):
        fields = {
            "trace_id": bytes.fromhex(TRACE_ID),
            "span_id": bytes.fromhex("eee19b7ec3c1b174"),
            "name": "ok",
            "start_time_unix_nano": START,
            "end_time_unix_nano": START + 5,
        }
        fields.update(kw)
        return Span(**fields)

    batch = [
        span(),
        span(name=""),
        span(span_id=bytes(8)),
        span(trace_id=b"\x01" * 15),
        span(start_time_unix_nano=0, end_time_unix_nano=0),
        span(end_time_unix_nano=START - 1),
    ]
    body = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=batch)])])

    spans, errors = decode_traces_request(body.SerializeToString(), PROTOBUF)

    assert len(spans) == 1
    assert [(e.index, e.reason.split(":")[0]) for e in errors] == [
        (1, "the span has no name"),
        (2, "invalid span id"),
        (3, "invalid trace id"),
        (4, "the span has no start time"),
        (5, "the span ends before it starts"),
    ]
    assert errors[0].span_id == "eee19b7ec3c1b174" and errors[0].trace_id == TRACE_ID


def test_a_span_without_an_end_time_is_open():
    open_span = json_span("1111111111111111", "running")
    del open_span["endTimeUnixNano"]

    (span,), _ = decode_traces_request(json_body(json_group(open_span)), JSON)

    assert span.end_ns is None


@pytest.mark.parametrize(
    "body, content_type, message",
    [
        (b"\xff\x00 definitely not protobuf \x12\x99", PROTOBUF, "invalid protobuf"),
        (b"{not json", JSON, "invalid JSON"),
        (b"[1, 2]", JSON, "must be a JSON object"),
        (b'{"resourceSpans": {"a": 1}}', JSON, "resourceSpans must be a list"),
        (b'{"resourceSpans": [{"scopeSpans": 3}]}', JSON, "scopeSpans must be a list"),
        (b"\xc3\x28", JSON, "invalid JSON"),
    ],
)
def test_an_undecodable_body_raises_otlp_decode_error(body, content_type, message):
    with pytest.raises(OTLPDecodeError, match=message):
        decode_traces_request(body, content_type)


def test_an_empty_request_has_no_spans():
    assert decode_traces_request(b"", PROTOBUF) == ([], [])
    assert decode_traces_request(b"{}", JSON) == ([], [])


def test_genai_log_records_with_only_an_observed_time_are_decoded():
    events = decode_logs_request(fixture_bytes("genai-v2-default__chat.logs.pb"), PROTOBUF)

    assert [e.event_name for e in events] == ["gen_ai.system.message", "gen_ai.user.message", "gen_ai.choice"]
    assert {e.span_id for e in events} == {"17c72a46b3edbdec"}
    assert {e.trace_id for e in events} == {"d1beef1043f8ec6af3d0e7421e45e2dd"}
    assert events[0].time_ns == 1795315298905524191
    assert events[0].body == {"content": "You are a concise geography assistant."}
    assert events[2].body["message"] == {
        "role": "assistant",
        "content": "Paris is the capital of France. It has been the capital since 987.",
    }
    assert events[0].attributes == {"gen_ai.system": "openai"}
    assert events[0].resource["service.name"] == "fixture-genai-v2-default"


def test_the_inference_details_log_record_keeps_structured_messages():
    (event,) = decode_logs_request(fixture_bytes("genai-openai-events__chat.logs.json"), JSON)

    assert event.event_name == "gen_ai.client.inference.operation.details"
    assert event.body is None
    assert event.attributes["gen_ai.input.messages"][1] == {
        "role": "user",
        "parts": [{"content": "What is the capital of France?", "type": "text"}],
        "name": None,
    }


def test_log_records_take_the_event_name_from_the_attribute_and_skip_what_cannot_be_attached():
    def record(span_id, name_attr, **extra):
        rec = {
            "traceId": TRACE_ID,
            "spanId": span_id,
            "timeUnixNano": "1795315298905524191",
            "attributes": [{"key": "event.name", "value": {"stringValue": name_attr}}],
            "body": {"kvlistValue": {"values": [{"key": "content", "value": {"stringValue": "hi"}}]}},
        }
        rec.update(extra)
        return rec

    body = json.dumps(
        {
            "resourceLogs": [
                {
                    "scopeLogs": [
                        {
                            "logRecords": [
                                record("eee19b7ec3c1b174", "gen_ai.user.message"),
                                record("eee19b7ec3c1b174", "http.request"),
                                record("", "gen_ai.user.message"),
                                record("eee19b7ec3c1b174", "ignored", eventName="gen_ai.choice"),
                            ]
                        }
                    ]
                }
            ]
        }
    ).encode()

    events = decode_logs_request(body, JSON)

    assert events == [
        LogEvent(
            trace_id=TRACE_ID,
            span_id="eee19b7ec3c1b174",
            event_name="gen_ai.user.message",
            time_ns=1795315298905524191,
            attributes={"event.name": "gen_ai.user.message"},
            body={"content": "hi"},
            resource={},
        ),
        LogEvent(
            trace_id=TRACE_ID,
            span_id="eee19b7ec3c1b174",
            event_name="gen_ai.choice",
            time_ns=1795315298905524191,
            attributes={"event.name": "ignored"},
            body={"content": "hi"},
            resource={},
        ),
    ]


def test_garbage_log_bodies_raise_otlp_decode_error():
    with pytest.raises(OTLPDecodeError):
        decode_logs_request(b"\xff\x00 definitely not protobuf \x12\x99", PROTOBUF)
    with pytest.raises(OTLPDecodeError):
        decode_logs_request(b"nope", JSON)


def test_partial_success_in_protobuf():
    body = encode_partial_success(2, "2 span(s) rejected", PROTOBUF)

    partial = ExportTraceServiceResponse.FromString(body).partial_success
    assert partial.rejected_spans == 2
    assert partial.error_message == "2 span(s) rejected"
    assert encode_partial_success(0, "", PROTOBUF) == b""


def test_partial_success_in_json():
    body = encode_partial_success(3, "bad ids", JSON)

    assert json.loads(body) == {"partialSuccess": {"rejectedSpans": "3", "errorMessage": "bad ids"}}
    assert json.loads(encode_partial_success(0, "", JSON)) == {}
