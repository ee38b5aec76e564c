import pytest

from evals.evaluators.base import MAX_SCAN_CHARS
from evals.evaluators.rules.pii import find_pii
from tests.evals import evaluate, llm_span, tool_span


def kinds(text):
    return [kind for kind, _, _ in find_pii(text)]


def test_it_passes_an_ordinary_support_answer():
    answer = (
        "Annual plans bought after 2024-01-15 can be refunded within 30 days. The refund of $1,234.56 "
        "(order A-10492, 3 seats at $411.52) reaches your card in 5-7 business days. Version 2.4.1 of the "
        "app shows it under Settings > Billing; call volume was up 12.5% in Q3 and 1,200,000 users upgraded."
    )
    result = evaluate("pii", llm_span(answer))
    assert (result.passed, result.value, result.label) == (True, 1.0, "clean")


def test_it_fails_on_an_email_and_a_phone_and_masks_them():
    answer = "I've forwarded this to dana.whitfield@northwind-traders.com; she'll call you from (415) 555-0132."
    result = evaluate("pii", llm_span(answer))
    assert (result.passed, result.value, result.label) == (False, 0.0, "pii:email,phone")
    masked = [m["masked"] for m in result.details["matches"]]
    assert masked == ["*" * len("dana.whitfield@northwind-traders") + ".com", "*" * len("(415) 555-") + "0132"]
    assert "dana" not in str(result.details)
    assert result.explanation == "The output contains personal data: 1 email, 1 phone."


def test_a_visa_test_number_is_found_and_a_bad_luhn_is_not():
    result = evaluate("pii", llm_span("Card on file: 4111 1111 1111 1111, expiring 09/27."))
    assert result.label == "pii:credit_card"
    assert result.details["matches"][0]["masked"].endswith("1111")
    assert "4111 1111" not in str(result.details)
    assert evaluate("pii", llm_span("Card on file: 4111 1111 1111 1112, expiring 09/27.")).passed is True


@pytest.mark.parametrize(
    "number", ["4111111111111111", "5555-5555-5555-4444", "3782 822463 10005", "6011 1111 1111 1117"]
)
def test_it_finds_card_numbers_of_several_issuers(number):
    assert kinds(f"Use {number} for the test payment.") == ["credit_card"]


def test_a_luhn_valid_number_without_an_issuer_prefix_is_not_a_card():
    assert kinds("Tracking number 1000000000000008 shipped.") == []  # Luhn-valid, no issuer starts with 1


def test_it_finds_an_iban_with_a_valid_checksum_only():
    assert kinds("Please wire it to GB82 WEST 1234 5698 7654 32 by Friday.") == ["iban"]
    assert kinds("IBAN: DE89370400440532013000.") == ["iban"]
    assert kinds("Please wire it to GB83 WEST 1234 5698 7654 32 by Friday.") == []  # bad check digits


def test_it_finds_ssns_but_not_never_issued_ones():
    assert kinds("Her SSN is 536-22-4187.") == ["ssn"]
    assert kinds("SSN: 536224187") == ["ssn"]
    assert kinds("Test values 666-12-3456, 900-12-3456, 000-12-3456 and 536-00-4187.") == []


@pytest.mark.parametrize(
    "phone",
    ["(415) 555-0132", "415-555-0132", "415.555.0132", "1-800-555-0199", "+1 415 555 0132", "+44 20 7946 0958",
     "+44 (0)20 7946 0958", "+33 6 12 34 56 78", "+4915112345678"],
)  # fmt: skip
def test_it_finds_phone_numbers_in_common_forms(phone):
    assert kinds(f"You can reach the team at {phone} on weekdays.") == ["phone"]


@pytest.mark.parametrize(
    "text",
    ["The total is $1,234.56.", "Delivered on 2024-01-15 at 10:30.", "Invoice 1234567890 is paid.",
     "Use ISBN 978-3-16-148410-0.", "Order 123-456-7890 shipped.", "Ratio 3.14159265 and 1.5e+10.",
     "Published 01/15/2024, updated 15.01.2024.", "Growth of +12.5% year over year."],
)  # fmt: skip
def test_ordinary_numbers_dates_and_prices_are_not_phones(text):
    assert kinds(text) == []


def test_it_finds_ip_addresses_but_not_loopback_versions_or_netmasks():
    assert kinds("The request came from 203.0.113.42 at noon.") == ["ip"]
    assert kinds("The login came from 2001:db8:85a3::8a2e:370:7334.") == ["ip"]
    assert kinds("Run it on 127.0.0.1:8000 with netmask 255.255.255.0, or bind ::1.") == []
    assert kinds("Upgrade to version 10.4.2.1 and retry at 12:30:45.") == []
    assert kinds("Octets must be below 256: 300.1.2.3 is not an address.") == []


def test_it_does_not_apply_to_retrievers_or_empty_outputs():
    assert evaluate("pii", llm_span("Contact dana@northwind-traders.com", kind="retriever")) is None
    assert evaluate("pii", llm_span("   ")) is None
    assert evaluate("pii", llm_span(None)) is None


def test_it_scans_tool_outputs_too():
    span = tool_span(result="dana@northwind-traders.com", output_text="dana@northwind-traders.com")
    assert evaluate("pii", span).label == "pii:email"


def test_a_huge_output_is_scanned_up_to_the_cap_and_says_so():
    text = ("All good here. " * 10_000) + " Reach me at dana@northwind-traders.com"
    result = evaluate("pii", llm_span(text))
    assert result.passed is True
    assert result.details == {"truncated": True, "scanned_chars": MAX_SCAN_CHARS}


def test_pathological_inputs_are_scanned_in_linear_time():
    # Quadratic patterns would take minutes on these (and hang the suite); linear ones take milliseconds.
    for text in ("a" * 100_000 + "@acme.com", "1" * 100_000, "1-" * 50_000, "+1 " * 30_000, "a:" * 50_000):
        assert find_pii(text) is not None
