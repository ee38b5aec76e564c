"""Golden set exports: JSONL (one case per line, every field) and a self-contained pytest file.

The pytest file needs only Python and pytest: the cases are inline (one JSON string literal, the only part of
the file that varies), the deterministic graders (JSON validity, JSON Schema when the jsonschema package is
present, personal data, allowed tools, non-empty) are small inline checks, and it calls the candidate given by
PEEKR_TARGET (an OpenAI-compatible base URL), PEEKR_MODEL and optionally PEEKR_API_KEY. Semantic graders (LLM
judges) are not run there: peekr_regress is the gate; the file is for a quick check without the Peekr server.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterable
from datetime import datetime

from annotations import regress
from annotations.models import CASE_FIELDS


def case_to_json(case: dict) -> dict:
    out = {f: case.get(f) for f in CASE_FIELDS}
    if isinstance(out["added_at"], datetime):
        out["added_at"] = out["added_at"].isoformat()
    return out


def cases_to_jsonl(cases: Iterable[dict]) -> str:
    return "".join(json.dumps(case_to_json(c), ensure_ascii=False, sort_keys=True) + "\n" for c in cases)


def cases_from_jsonl(text: str) -> list[dict]:
    """Cases read back from a JSONL export; ``added_at`` becomes a datetime again."""
    cases = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {n}: not JSON ({exc})") from None
        if not isinstance(case, dict) or not case.get("case_id"):
            raise ValueError(f"line {n}: a case needs a case_id")
        if isinstance(case.get("added_at"), str):
            case["added_at"] = datetime.fromisoformat(case["added_at"])
        cases.append(case)
    return cases


def jsonl_file_name(set_name: str, version: int) -> str:
    """A download name safe in a Content-Disposition header: no quotes, newlines or slashes from the set's name."""
    return (re.sub(r"[^0-9a-zA-Z._-]+", "_", set_name).strip("._") or "golden-set") + f"-v{version}.jsonl"


def pytest_module_name(set_name: str) -> str:
    return "test_golden_" + (re.sub(r"[^0-9a-zA-Z]+", "_", set_name).strip("_").lower() or "set") + ".py"


# The file is a fixed template: user data (the set's name, its cases) only ever goes into the one string
# literal GOLDEN is read from, made by repr() of a JSON document, and test ids come from it at run time.
_PYTEST_HEAD = r'''"""Golden set exported by Peekr: its name, version and cases are the JSON document GOLDEN below.

Run: PEEKR_TARGET=http://host/v1 PEEKR_MODEL=my-model pytest THIS_FILE.py
Deterministic graders only (inline); LLM-judge graders run in `manage.py peekr_regress`.
"""

import fnmatch
import json
import os
import re
import urllib.request

import pytest

'''

_PYTEST_MIDDLE = r"""CASES = GOLDEN["cases"]
INLINE_GRADERS = ("json_valid", "json_schema", "pii", "tool_allowed", "non_empty")


"""

_PYTEST_TAIL = r'''

def call_candidate(case):
    target = os.environ.get("PEEKR_TARGET", "").rstrip("/")
    if not target:
        pytest.skip("set PEEKR_TARGET (an OpenAI-compatible base URL) to run the golden cases")
    body = {"model": os.environ.get("PEEKR_MODEL") or case["model"], "messages": replay_messages(case)}
    request = urllib.request.Request(
        target + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + os.environ.get("PEEKR_API_KEY", "none")},
    )
    with urllib.request.urlopen(request, timeout=float(os.environ.get("PEEKR_TIMEOUT", "60"))) as response:
        message = json.loads(response.read())["choices"][0]["message"]
    calls = [(c.get("function") or {}).get("name", "") for c in message.get("tool_calls") or []]
    return message.get("content") or "", calls


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}")
_PHONE = re.compile(r"\+[0-9][0-9 .()-]{7,18}[0-9]|\(?\b[2-9][0-9]{2}\)?[ .-][2-9][0-9]{2}[ .-][0-9]{4}\b")
_SSN = re.compile(r"\b(?!000|666|9)[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}\b")
_CARD = re.compile(r"\b(?:[0-9][ -]?){12,18}[0-9]\b")


def _luhn(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def find_pii(text):
    found = [m.group() for m in _EMAIL.finditer(text)] + [m.group() for m in _PHONE.finditer(text)]
    found += [m.group() for m in _SSN.finditer(text)]
    found += [m.group() for m in _CARD.finditer(text) if _luhn(re.sub(r"[ -]", "", m.group()))]
    return found


def check(grader, output, calls):
    """None when the grader passes, else the reason it fails."""
    kind = grader["type"]
    if kind in ("json_valid", "json_schema"):
        try:
            data = json.loads(output)
        except ValueError as exc:
            return "not valid JSON: %s" % exc
        if kind == "json_schema" and isinstance(grader.get("schema"), dict):
            try:
                import jsonschema
            except ImportError:
                return None
            errors = list(jsonschema.Draft202012Validator(grader["schema"]).iter_errors(data))
            return "schema: " + errors[0].message if errors else None
        return None
    if kind == "pii":
        hits = find_pii(output)
        return "personal data in the output: %d match(es)" % len(hits) if hits else None
    if kind == "tool_allowed":
        allowed = grader.get("allowed") or []
        bad = [c for c in calls if allowed and not any(fnmatch.fnmatchcase(c, p) for p in allowed)]
        return "tools outside the allowed set: " + ", ".join(bad) if bad else None
    if kind == "non_empty":
        return None if output.strip() or calls else "empty answer"
    return None


@pytest.mark.parametrize("case", CASES, ids=[c["case_id"] for c in CASES])
def test_case(case):
    graders = [g for g in case["graders"] if g.get("type") in INLINE_GRADERS]
    if not graders:
        pytest.skip("only LLM-judge graders: run peekr_regress")
    output, calls = call_candidate(case)
    failures = [g["type"] + ": " + reason for g in graders for reason in [check(g, output, calls)] if reason]
    assert not failures, "; ".join(failures)
'''


def cases_to_pytest(*, name: str, version: int, cases: list[dict]) -> str:
    """A pytest module that replays the cases against PEEKR_TARGET with the inline deterministic graders.

    Only the GOLDEN line varies: repr() of an ASCII-only JSON document, so no user text is ever Python source
    and the file holds no invisible or bidirectional characters.
    """
    data = {"name": name, "version": version, "cases": [case_to_json(c) for c in cases]}
    literal = repr(json.dumps(data, ensure_ascii=True, sort_keys=True))
    return "".join([
        _PYTEST_HEAD,
        f"GOLDEN = json.loads({literal})\n",
        _PYTEST_MIDDLE,
        # The same replay as peekr_regress (pure functions, copied in): both send the same messages.
        inspect.getsource(regress.replay_messages),
        "\n\n",
        inspect.getsource(regress.context_texts),
        _PYTEST_TAIL,
    ])  # fmt: skip
