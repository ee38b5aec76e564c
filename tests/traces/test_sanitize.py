"""traces.sanitize on plain data: no database."""

import json
import time

import pytest

from tests.base import make_raw_span
from traces.sanitize import (
    DEPTH_MARKER,
    DROPPED_KEY,
    MAX_DEPTH,
    TRUNCATED_KEY,
    Limits,
    clean_span,
    clean_text,
    column_int,
    cut_deep_json,
    load_json,
    time_problem,
)

LIMITS = Limits(max_attributes=4, max_value_chars=10)


def nested(levels: int) -> dict:
    value: dict | str = "bottom"
    for _ in range(levels):
        value = {"k": value}
    return value


def test_nul_and_lone_surrogates_become_the_replacement_character():
    assert clean_text("a\x00b\ud800c\udfff") == "a\ufffdb\ufffdc\ufffd"
    assert clean_text("plain 😀 text") == "plain 😀 text"


def test_keys_values_names_events_and_resource_are_cleaned():
    raw = make_raw_span(name="n\x00", attributes={"k\x00": ["v\ud800", {"x\x00": "y"}]}, status_message="m\x00")
    raw.events = [{"name": "e\x00", "time_ns": 5, "attributes": {"a\x00": "b"}}]
    raw.resource = {"service.name": "s\x00"}

    span = clean_span(raw, Limits())

    assert span.name == "n\ufffd" and span.status_message == "m\ufffd"
    assert span.attributes == {"k\ufffd": ["v\ufffd", {"x\ufffd": "y"}]}
    assert span.events == [{"name": "e\ufffd", "time_ns": 5, "attributes": {"a\ufffd": "b"}}]
    assert span.resource == {"service.name": "s\ufffd"}


def test_integers_past_int64_become_text_and_nan_becomes_null():
    raw = make_raw_span(attributes={"big": 2**63, "small": -(2**63) - 1, "ok": 2**63 - 1, "nan": float("nan")})

    assert clean_span(raw, Limits()).attributes == {
        "big": str(2**63),
        "small": str(-(2**63) - 1),
        "ok": 2**63 - 1,
        "nan": None,
    }


def test_over_the_limits_attributes_are_dropped_strings_cut_and_both_counted():
    raw = make_raw_span(attributes={"a": "x" * 25, "b": [1, 2, 3, 4, 5, 6], "c": 3, "d": 4, "e": 5, "f": 6})

    attrs = clean_span(raw, LIMITS).attributes

    assert list(attrs) == ["a", "b", "c", "d", DROPPED_KEY, TRUNCATED_KEY]
    assert attrs["a"] == "x" * 10 + "…[truncated 15 characters]"
    assert attrs["b"] == [1, 2, 3, 4]
    assert attrs[DROPPED_KEY] == 2 + 2  # two attributes, two array items
    assert attrs[TRUNCATED_KEY] == 1


def test_events_beyond_the_limit_are_dropped_and_counted():
    raw = make_raw_span()
    raw.events = [{"name": f"e{i}", "time_ns": 0, "attributes": {}} for i in range(6)]

    span = clean_span(raw, LIMITS)

    assert [e["name"] for e in span.events] == ["e0", "e1", "e2", "e3"]
    assert span.attributes[DROPPED_KEY] == 2


def test_a_value_nested_past_the_depth_limit_is_replaced_by_a_marker():
    attrs = clean_span(make_raw_span(attributes={"deep": nested(MAX_DEPTH + 10)}), Limits()).attributes

    text = json.dumps(attrs["deep"])
    assert DEPTH_MARKER in text and "bottom" not in text
    assert attrs[TRUNCATED_KEY] == 1


@pytest.mark.parametrize(
    "start",
    [1e12, time.time() * 1e3, 5e-6, 900_000_000.0],  # ms as s, ms as s, ns as s, 1998
)
def test_a_span_out_of_the_time_range_is_rejected_with_a_reason(start):
    reason = clean_span(make_raw_span(start=start), Limits())
    assert isinstance(reason, str) and "out of range" in reason


def test_an_open_span_and_a_span_of_today_pass():
    assert time_problem(time.time_ns(), "start time") is None
    assert clean_span(make_raw_span(duration=None), Limits()).end_ns is None


def test_event_times_out_of_range_become_unknown():
    raw = make_raw_span()
    raw.events = [{"name": "e", "time_ns": 2**70, "attributes": {}}, {"name": "f", "time_ns": -3, "attributes": {}}]
    assert [e["time_ns"] for e in clean_span(raw, Limits()).events] == [0, 0]


def test_a_wild_span_kind_becomes_unspecified():
    assert clean_span(make_raw_span(kind=70000), Limits()).kind == 0
    assert clean_span(make_raw_span(kind=3), Limits()).kind == 3


def test_column_int_keeps_what_an_integer_column_holds():
    assert [column_int(v) for v in (None, 5, 2**31 - 1, 2**31, -(2**40))] == [None, 5, 2**31 - 1, None, None]


def test_load_json_cuts_a_body_nested_past_the_parser_and_keeps_its_siblings():
    deep = "[" * 5000 + "]" * 5000
    body = f'{{"spans": [{{"a": "[{{ in a string"}}, {deep}, {{"b": 2}}]}}'.encode()

    data = load_json(body)

    assert data["spans"][0] == {"a": "[{ in a string"} and data["spans"][2] == {"b": 2}
    assert DEPTH_MARKER in json.dumps(data["spans"][1])


def test_cut_deep_json_leaves_shallow_text_alone_and_respects_escaped_quotes():
    text = '{"a": "x\\"]]]", "b": [[1], [2]]}'
    assert cut_deep_json(text, 5) == text
    assert json.loads(cut_deep_json(text, 2)) == {"a": 'x"]]]', "b": [DEPTH_MARKER, DEPTH_MARKER]}
