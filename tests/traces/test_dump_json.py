"""traces.services.dump_json: the JSON text every JSON column is written as (PostgreSQL's jsonb must accept it)."""

import json

from traces.services import dump_json


def test_it_writes_plain_values_as_json_reads_them_back():
    value = {"a": [1, 2.5, True, None], "b": {"c": "é ✓ 漢"}, "n": 2**63 - 1}
    assert json.loads(dump_json(value)) == value


def test_empty_containers_are_written_without_an_encoder_call():
    assert (dump_json({}), dump_json([]), dump_json(None)) == ("{}", "[]", "null")


def test_nan_and_infinities_become_null():
    assert json.loads(dump_json({"x": float("nan"), "y": [float("inf"), -float("inf")]})) == {
        "x": None,
        "y": [None, None],
    }


def test_a_nul_character_is_replaced_since_jsonb_refuses_it():
    text = dump_json({"k": ["a\x00b"]})
    assert "\\u0000" not in text
    assert json.loads(text) == {"k": ["a\ufffdb"]}


def test_an_integer_past_64_bits_is_kept_whole():
    assert json.loads(dump_json({"big": 2**70})) == {"big": 2**70}


def test_bytes_are_written_as_base64_and_keys_as_strings():
    assert json.loads(dump_json({1: b"\x00\xff"})) == {"1": "AP8="}
