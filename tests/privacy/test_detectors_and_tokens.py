"""The shared PII detectors (traces.pii) and redaction (traces.redact), on plain data: no database."""

import pytest

from traces.pii import find_pii_matches, iban_valid, luhn_valid
from traces.redact import (
    OFF,
    PolicyError,
    Redactor,
    compile_pattern,
    id_token,
    policy_build,
    token,
)

KEY = b"k" * 32
TEXT = "Mail jane.doe@example.com, card 4111 1111 1111 1111, SSN 123-45-6789, call +1 415 555 0132."


def test_luhn_accepts_real_test_cards_and_refuses_a_changed_digit():
    assert luhn_valid("4111111111111111")
    assert luhn_valid("378282246310005")  # Amex
    assert not luhn_valid("4111111111111112")


def test_iban_mod_97_accepts_a_registered_iban_and_refuses_a_typo():
    assert iban_valid("GB82WEST12345698765432")
    assert iban_valid("DE89370400440532013000")
    assert not iban_valid("GB82WEST12345698765433")


def test_it_finds_only_the_kinds_asked_for():
    kinds = [k for k, *_ in find_pii_matches(TEXT)]
    assert kinds == ["email", "credit_card", "ssn", "phone"]
    assert [k for k, *_ in find_pii_matches(TEXT, {"email"})] == ["email"]


def test_a_card_that_fails_luhn_is_not_a_card():
    assert find_pii_matches("order 4111 1111 1111 1112", {"credit_card"}) == []


def test_it_finds_more_than_the_pii_rules_cap_when_redacting():
    text = " ".join(f"user{i}@example.com" for i in range(500))
    assert len(find_pii_matches(text, {"email"})) == 500
    assert len(find_pii_matches(text, {"email"}, limit=200)) == 200


def test_the_defaults_mask_email_card_and_ssn_and_keep_phones():
    r = Redactor(policy_build(key=KEY))
    out = r.text(TEXT)
    assert out == "Mail [EMAIL], card [CARD], SSN [SSN], call +1 415 555 0132."
    assert r.counts == {"email": 1, "credit_card": 1, "ssn": 1}


def test_counts_are_of_distinct_values():
    r = Redactor(policy_build(key=KEY))
    r.value({"output": "a@example.com", "messages": [{"content": "a@example.com or B@example.com"}]})
    r.text("A@EXAMPLE.COM")
    assert r.counts == {"email": 2}


def test_tokens_are_stable_keyed_and_normalised():
    policy = policy_build(key=KEY, actions={"email": "tokenise", "credit_card": "tokenise"})
    a = Redactor(policy).text("to Jane.Doe@Example.com and 4111-1111-1111-1111")
    b = Redactor(policy).text("to jane.doe@example.com and 4111 1111 1111 1111")
    assert a == b
    assert a.startswith("to [EMAIL:") and "[CARD:" in a
    assert (
        a
        == f"to [EMAIL:{token(KEY, 'email', 'jane.doe@example.com')}] and [CARD:{token(KEY, 'credit_card', '4111111111111111')}]"
    )
    other = Redactor(policy_build(key=b"x" * 32, actions={"email": "tokenise"})).text("jane.doe@example.com")
    assert other != a.split(" and ")[0][3:]  # another project's key gives another token
    assert id_token(KEY, "user", "user-7") == id_token(KEY, "user", "user-7") != id_token(KEY, "user", "user-8")
    assert id_token(KEY, "user", "user-7").startswith("u_") and len(id_token(KEY, "user", "user-7")) == 18


def test_json_values_are_redacted_at_any_depth_and_dropped_keys_removed():
    policy = policy_build(key=KEY, drop_keys=["http.request.header.authorization"])
    r = Redactor(policy)
    value = {
        "a": [{"b": {"c": "write to bob@example.org"}}, 42, None],
        "http.request.header.authorization": "Bearer secret",
        "nested": {"http.request.header.authorization": "x", "ok": "fine"},
    }
    assert r.value(value) == {"a": [{"b": {"c": "write to [EMAIL]"}}, 42, None], "nested": {"ok": "fine"}}
    assert r.counts == {"email": 1, "dropped_key": 1}


def test_custom_patterns_mask_tokenise_or_keep():
    policy = policy_build(
        key=KEY,
        custom_patterns=[
            {"name": "order_id", "pattern": r"ORD-[0-9]{8}", "action": "mask"},
            {"name": "ticket", "pattern": r"TCK-[A-Z]{4}", "action": "tokenise"},
            {"name": "badge", "pattern": r"BDG[0-9]{3}", "action": "keep"},
        ],
    )
    r = Redactor(policy)
    out = r.text("ORD-12345678 TCK-ABCD BDG123")
    assert out.startswith("[ORDER_ID] [TICKET:") and out.endswith("] BDG123")
    assert r.counts == {"order_id": 1, "ticket": 1}


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(a+)+$", "another repeat"),
        (r"(\w+\s?)*x", "another repeat"),
        (r"(a)\1", "back-references"),
        ("a*", "empty string"),
        (r"[a-z]+@[a-z]+", "too slow"),  # quadratic on a long run of letters without "@"
        ("[unclosed", "does not compile"),
        ("", "1-300 characters"),
    ],
)
def test_it_refuses_patterns_that_cannot_be_applied_safely(pattern, reason):
    with pytest.raises(PolicyError, match=reason):
        compile_pattern("custom", pattern)


def test_it_refuses_bad_names_actions_and_kinds():
    with pytest.raises(PolicyError, match="name"):
        compile_pattern("Bad Name", "x")
    with pytest.raises(PolicyError, match="action"):
        policy_build(key=KEY, actions={"email": "shred"})
    with pytest.raises(PolicyError, match="unknown PII kind"):
        policy_build(key=KEY, actions={"passport": "mask"})
    with pytest.raises(PolicyError, match="unique"):
        policy_build(key=KEY, custom_patterns=[{"name": "email", "pattern": "x"}])


def test_off_redacts_nothing():
    assert not OFF.active
