"""Personal data in text: emails, phone numbers, payment cards, US SSNs, IBANs, IP addresses. One implementation for
redaction at ingest (traces.redact) and for the PII rule (evals.evaluators.rules.pii), which runs on what was stored.

Each kind is a precompiled pattern plus a check that removes look-alikes:

- email: local@domain.tld, looked for only around each "@";
- phone: international numbers written with a leading "+" (8 to 15 digits, E.164) and North American
  numbers written with separators: (415) 555-0132, 415-555-0132, 415.555.0132, 1-800-555-0199, with a valid
  area code and exchange (first digit 2-9). Bare digit runs, dates, prices and version numbers are not
  phones; national forms without "+" outside North America (020 7946 0958) are not recognised;
- credit_card: 13 to 19 digits, plain or in 4-digit groups (4-6-5 for Amex), with a known issuer prefix
  and a valid Luhn checksum;
- ssn: 123-45-6789 (or space-separated), or 9 bare digits right after "SSN" / "social security number";
  area 000, 666 and 900-999, group 00 and serial 0000 are never issued, so never flagged;
- iban: country code, check digits and the country's registered length, with the ISO 13616 mod-97 check;
- ip: IPv4 (each octet 0-255, no leading zeros) and IPv6 (checked by ``ipaddress``). Addresses that point
  at no one are not flagged: loopback, unspecified, link-local, multicast, reserved, netmask-like 255.x.

Patterns use look-behind guards and bounded repeats, so a scan is linear in the text. Cheap pre-checks skip the
patterns a text cannot match (no digit: no card, SSN, IBAN, phone or IP; no "@": no email), which is most of the
strings ingest sees. Pure functions: no Django.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_left
from collections.abc import Collection

# In the order overlapping matches are settled: a card number is not also a phone number.
KINDS = ("credit_card", "iban", "ssn", "email", "phone", "ip")

# Speed: CPython's re scans fast only for a pattern that starts by consuming a literal or a character set,
# so each pattern consumes its first character and only then checks, with a look-behind one character
# wider, what came before it. [0-9] rather than \d: ASCII digits only, and a cheaper test than Unicode's.
_ANY_DIGIT = re.compile(r"[0-9]")
_EMAIL = re.compile(
    r"[A-Za-z0-9](?<![\w.%+-][A-Za-z0-9])[A-Za-z0-9._%+-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![\w-])"
)
_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_CARD = re.compile(
    r"[0-9](?<![0-9.,/+-][0-9])"
    r"(?:[0-9]{3}([ -]?)[0-9]{4}\1[0-9]{4}\1[0-9]{1,4}(?:\1[0-9]{1,3})?"  # 13-19 digits, plain or in 4s
    r"|(?<=3)[47][0-9]{2}([ -]?)[0-9]{6}\2[0-9]{5})"  # Amex 4-6-5
    r"(?![0-9]|[.,/-][0-9])"
)
_SSN = re.compile(r"([0-9](?<![0-9-][0-9])[0-9]{2})([- ])([0-9]{2})\2([0-9]{4})(?![0-9]|[.,/-][0-9])")
_SSN_LABELLED = re.compile(
    r"(?i)\b(?:ssn|social\s+security(?:\s+(?:number|no\.?|#))?)\W{0,5}(?:is\s+|was\s+)?([0-9]{9})(?![0-9])"
)
_SSN_WORDS = ("SSN", "ssn", "Ssn", "ocial", "OCIAL")
_IBAN = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z][0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")
_PHONE_INTL = re.compile(
    r"\+(?<![\w+]\+)[0-9]{1,3}(?:[ .-]?\([0-9]{1,4}\))?[ .-]?[0-9]{1,14}(?:[ .-][0-9]{1,14}){0,6}(?![0-9]|[.-][0-9])"
)
# North American numbers are found by their last part (555-0132), then read backwards for the area code.
_PHONE_LINE = re.compile(r"[0-9](?<![0-9][0-9])[0-9]{2}([ .-])[0-9]{4}(?![0-9]|[.-][0-9])")
_PHONE_HEAD = re.compile(r"(?:(?<![\w+.-])1[ .-]?|(?<![\w+.-]))(?:\(([0-9]{3})\)[ .-]?|([0-9]{3})([ .-]))\Z")
_IPV4 = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,2}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?!\w|\.[0-9])")
_IPV6 = re.compile(
    r"[0-9A-Fa-f:](?<![\w:.][0-9A-Fa-f:])[0-9A-Fa-f]{0,3}:?(?:[0-9A-Fa-f]{0,4}:){1,7}[0-9A-Fa-f.]{0,15}(?![\w:])"
)
_VERSION_CONTEXT = re.compile(r"(?i)\b(?:version|release|build|v)\.?\s*$")

# ISO 13616 registry: country -> IBAN length.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


# The fewest ASCII digits a text must hold for each kind to be possible: most strings a span carries (ids, model
# names, versions, timestamps) fall short, and are not scanned for it.
MIN_DIGITS = {"credit_card": 13, "iban": 2, "ssn": 9, "phone": 7, "ip": 1, "email": 0}  # ip: IPv6; IPv4 needs 4


_NOT_DIGITS = bytes(b for b in range(256) if not 48 <= b <= 57)


def digit_count(text: str) -> int:
    """ASCII digits in the text: one C-level encode and one translate, several times cheaper than a regex or
    ten str.count calls (ingest asks it of most strings a span carries)."""
    return len(text.encode("utf-8", "surrogatepass").translate(None, _NOT_DIGITS))


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The issuer a 13-19 digit number's prefix and length belong to, or None."""
    n = len(digits)
    if not 13 <= n <= 19 or len(set(digits)) == 1:
        return None
    p2, p3, p4, p6 = int(digits[:2]), int(digits[:3]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or p2 == 65 or 644 <= p3 <= 649 or 622126 <= p6 <= 622925) and n >= 16:
        return "discover"
    if (300 <= p3 <= 305 or p2 in (36, 38, 39) or p4 == 3095) and n >= 14:
        return "diners"
    if 3528 <= p4 <= 3589 and n >= 16:
        return "jcb"
    if 2200 <= p4 <= 2204 and n >= 16:
        return "mir"
    if p2 == 62 and n >= 16:
        return "unionpay"
    if (p2 == 50 or 56 <= p2 <= 69) and n >= 13:
        return "maestro"
    return None


def iban_valid(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1
    except ValueError:
        return False


def ssn_valid(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _ip_flagged(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.is_loopback or address.is_unspecified or address.is_link_local or address.is_multicast:
        return False
    if address.version == 4:
        first = int(str(address).split(".", 1)[0])
        return 0 < first < 224  # 224+ multicast, reserved, broadcast, netmasks
    return not address.is_reserved


class _Found:
    """Non-overlapping matches kept sorted by start: a later (lower-priority) match overlapping a kept one is
    dropped, in O(log n) per match."""

    __slots__ = ("starts", "items", "limit")

    def __init__(self, limit: int | None) -> None:
        self.starts: list[int] = []
        self.items: list[tuple[str, int, int, str]] = []
        self.limit = limit

    def full(self) -> bool:
        return self.limit is not None and len(self.items) >= self.limit

    def add(self, kind: str, start: int, end: int, value: str) -> None:
        if self.full():
            return
        i = bisect_left(self.starts, start)
        if i > 0 and self.items[i - 1][2] > start:
            return
        if i < len(self.items) and self.items[i][1] < end:
            return
        self.starts.insert(i, start)
        self.items.insert(i, (kind, start, end, value))


def find_pii_matches(
    text: str, kinds: Collection[str] = KINDS, limit: int | None = None
) -> list[tuple[str, int, int, str]]:
    """The PII of the given kinds in the text as (kind, start, end, value), in order of position, without overlaps
    (a card number is not also a phone number: kinds are settled in KINDS order). At most ``limit`` matches."""
    found = _Found(limit)
    add = found.add
    n_digits = digit_count(text) if _ANY_DIGIT.search(text) is not None else 0
    if n_digits >= MIN_DIGITS["credit_card"] and "credit_card" in kinds:
        for m in _CARD.finditer(text):
            number = m.group().replace(" ", "").replace("-", "")
            if card_brand(number) and luhn_valid(number):
                add("credit_card", m.start(), m.end(), m.group())
    if n_digits >= MIN_DIGITS["iban"] and "iban" in kinds:
        for m in _IBAN.finditer(text):
            compact = m.group().replace(" ", "")
            length = IBAN_LENGTHS.get(compact[:2])
            if length and len(compact) >= length and iban_valid(compact[:length]):
                add("iban", m.start(), m.end(), compact[:length])
    if n_digits >= MIN_DIGITS["ssn"] and "ssn" in kinds:
        for m in _SSN.finditer(text):
            if ssn_valid(m.group(1), m.group(3), m.group(4)):
                add("ssn", m.start(), m.end(), m.group())
        if any(word in text for word in _SSN_WORDS):
            for m in _SSN_LABELLED.finditer(text):
                d = m.group(1)
                if ssn_valid(d[:3], d[3:5], d[5:]):
                    add("ssn", m.start(1), m.end(1), d)
    at = text.find("@") if "email" in kinds else -1
    while at != -1 and not found.full():
        # Emails are found from their "@": scanning every word of the text for one would cost far more.
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in _EMAIL_LOCAL:
            start -= 1
        while start < at and not text[start].isalnum():
            start += 1
        m = _EMAIL.match(text, start) if start < at else None
        if m:
            add("email", m.start(), m.end(), m.group())
        at = text.find("@", m.end() if m else at + 1)
    if n_digits >= MIN_DIGITS["phone"] and "phone" in kinds:
        if "+" in text:
            for m in _PHONE_INTL.finditer(text):
                digits = sum(ch.isdigit() for ch in m.group())
                if 8 <= digits <= 15:
                    add("phone", m.start(), m.end(), m.group())
        for m in _PHONE_LINE.finditer(text):
            head = _PHONE_HEAD.search(text, max(0, m.start() - 10), m.start())
            if head is None:
                continue
            area = head.group(1) or head.group(2)
            if head.group(3) and head.group(3) != m.group(1):
                continue  # 415-555.0132: separators must agree
            if area[0] not in "01" and m.group()[0] not in "01":
                add("phone", head.start(), m.end(), text[head.start() : m.end()])
    if n_digits >= MIN_DIGITS["ip"] and "ip" in kinds:
        if "." in text and n_digits >= 4:
            for m in _IPV4.finditer(text):
                if _VERSION_CONTEXT.search(text, max(0, m.start() - 12), m.start()):
                    continue
                try:
                    address = ipaddress.IPv4Address(m.group())  # rejects octets over 255 and leading zeros
                except ValueError:
                    continue
                if _ip_flagged(address):
                    add("ip", m.start(), m.end(), m.group())
        if "::" in text or text.count(":") >= 7:
            for m in _IPV6.finditer(text):
                candidate = m.group().rstrip(".")
                if not any(ch.isdigit() for ch in candidate):
                    continue
                try:
                    address = ipaddress.IPv6Address(candidate)
                except ValueError:
                    continue
                if _ip_flagged(address):
                    add("ip", m.start(), m.start() + len(candidate), candidate)
    return found.items


def find_pii(text: str, limit: int | None = 200) -> list[tuple[str, int, str]]:
    """Every PII match in the text as (kind, start, matched text), in order of position (the PII rule's view)."""
    return [(kind, start, value) for kind, start, _, value in find_pii_matches(text, KINDS, limit)]
