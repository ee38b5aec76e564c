"""json_valid: the output parses as JSON, when it is meant to be JSON.

"Meant to be JSON" is decided on the span alone, cheaply:

1. the request asked for it: ``gen_ai.output.type`` = "json", a ``*response_format*`` attribute mentioning
   json (json_object, json_schema), ``gen_ai.request.structured_output_schema``, or OpenInference's
   ``llm.invocation_parameters`` carrying such a response_format (or Ollama's ``"format": "json"``);
2. else the output itself starts like a JSON object or array: ``{``, or ``[`` that is not a citation such
   as "[1] The refund..." (a short bracketed token followed by prose). On spans other than llm spans an
   ``output.mime_type`` of text/plain says the text is not JSON (a Python dict repr, say).

Only model/app output is judged (llm, agent, chain, span, guardrail spans); a tool's, retriever's or
embedding's output is serialised by the instrumentation, not promised by the app.

Strict JSON: NaN/Infinity are rejected, and an answer wrapped in a Markdown ```json fence fails (a JSON
parser downstream would reject it too); a fenced answer only counts as "meant to be JSON" when the request
asked for JSON, since chat answers legitimately show JSON in fences. Outputs over 1 MB are not parsed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from evals.evaluators.base import ANSWER_KINDS, Evaluator, skipped, text_of
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget

MAX_PARSE_CHARS = 1_000_000

_FENCE = re.compile(r"\A```[ \t]*(?:json|JSON|json5)?[ \t]*\r?\n(.*?)\r?\n?```\s*\Z", re.DOTALL)
# "[1] The refund...", "[doc-17] says": a bracketed token followed by prose is a citation, not an array.
_CITATION_START = re.compile(r"\[[^\[\]{}\"',]{1,40}\]\s*[^\s,\]}]")
_OLLAMA_JSON = re.compile(r'"format"\s*:\s*"json"')


def _mentions_json(value: Any) -> bool:
    if isinstance(value, str):
        return "json" in value.lower()
    if isinstance(value, dict):
        return any(_mentions_json(v) for k, v in value.items() if k in ("type", "format", "json_schema"))
    return False


def requested_json(attributes: Any) -> bool:
    """Whether the span's request asked for a JSON answer (see the module docstring)."""
    if not isinstance(attributes, dict) or not attributes:
        return False
    if str(attributes.get("gen_ai.output.type", "")).lower() == "json":
        return True
    if attributes.get("gen_ai.request.structured_output_schema"):
        return True
    params = attributes.get("llm.invocation_parameters")
    if isinstance(params, str) and ("response_format" in params or '"format"' in params):
        if _OLLAMA_JSON.search(params):
            return True
        try:
            params = json.loads(params)
        except ValueError:
            params = None
    if isinstance(params, dict) and _mentions_json(params.get("response_format")):
        return True
    return any(isinstance(k, str) and "response_format" in k and _mentions_json(v) for k, v in attributes.items())


def looks_like_json(text: str) -> bool:
    stripped = text.lstrip()
    if not stripped:
        return False
    if stripped[0] == "{":
        return True
    if stripped[0] == "[":
        return not _CITATION_START.match(stripped)
    return False


class JsonValid(Evaluator):
    name = "json_valid"
    version = "1"
    kind = "rule"
    target = "span"
    description = (
        "The output parses as strict JSON, on spans whose request asked for JSON or whose output starts like JSON."
    )

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        if target.kind not in ANSWER_KINDS:
            return False
        text, _ = text_of(target.output_text, 4096)
        if not text.strip():
            return False
        if requested_json(target.attributes):
            return True
        if target.kind != "llm" and isinstance(target.attributes, dict):
            mime = target.attributes.get("output.mime_type")
            if mime == "text/plain":
                return False
            if mime == "application/json":
                return True
        return looks_like_json(text)

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        text, truncated = text_of(target.output_text, MAX_PARSE_CHARS)
        if truncated:
            return EvalResult(
                status="skipped",
                label="too_large",
                explanation=f"The output is over {MAX_PARSE_CHARS:,} characters; it was not parsed.",
                details={"truncated": True, "scanned_chars": 0},
            )
        if not text.strip():
            return skipped("The span has no output.")
        try:
            json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            return _invalid(text, exc)
        return EvalResult(value=1.0, passed=True, label="valid", explanation="The output is valid JSON.")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _invalid(text: str, exc: Exception) -> EvalResult:
    details: dict[str, Any] = {"error": str(exc)[:200]}
    if isinstance(exc, json.JSONDecodeError):
        details.update(error=exc.msg, line=exc.lineno, column=exc.colno, position=exc.pos)
        details["near"] = text[max(0, exc.pos - 20) : exc.pos + 20]
    fence = _FENCE.match(text.strip())
    explanation = f"The output is not valid JSON: {details['error']}."
    if fence:
        details["fenced"] = True
        try:
            json.loads(fence.group(1), parse_constant=_reject_constant)
            details["inner_valid"] = True
            explanation = "The output is JSON wrapped in a Markdown code fence, which a JSON parser rejects."
        except (ValueError, RecursionError):
            details["inner_valid"] = False
    return EvalResult(value=0.0, passed=False, label="invalid", explanation=explanation, details=details)
