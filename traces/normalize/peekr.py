"""The Peekr Python SDK (``peekr`` 0.9.x): its JSON spans and the attributes its patches write.

Wire format (``HTTPExporter`` POSTs ``{"spans": [Span.to_dict(), ...]}`` to /v1/spans): each item is
{name, trace_id, span_id, parent_id, start_time, end_time, attributes, status, tenant_id, retention_class,
duration_ms}; ids are ``uuid4().hex`` (32 hex, both trace and span), times are ``time.time()`` floats,
``end_time`` is null while open, status is "ok" / "error" / "blocked" (an input guardrail stopped the call).

Attributes (plain names, not namespaced): ``model``, ``provider`` (litellm), ``input`` (the JSON of the chat
messages for LLM patches, cut at 1000 characters with "…"; ``{"args", "kwargs"}`` JSON for ``@trace``),
``output`` (text), ``system`` (Anthropic), ``tokens_input`` / ``tokens_output`` / ``tokens_total``,
``session_id``, ``user_id``, ``error``, ``tool`` (LangChain agent actions, LlamaIndex function calls),
``eval_scores`` ({evaluator: float}) and ``eval_errors`` ({evaluator: message}), ``hallucination_details``
and ``citation_details`` (details of those two evaluators), ``guardrail_warnings`` / ``guardrail_violations``
(lists of strings), ``compliance_violations`` (list of {type, pack, matched, rule}), ``evidence_chunks``
({n, id, text, title, source_url, score, ...}) and ``rag.query`` / ``rag.retrieved_docs`` (retrieval),
``peekr.internal`` (the SDK's own judge calls). The span kind comes from the span name the patches use.

Spans the SDK re-exports through OpenTelemetry (``peekr.otel.OTelExporter``) carry OpenInference names
(read by ``openinference``) plus ``peekr.name``, ``peekr.eval.<evaluator>`` and ``peekr.guardrail_violations``,
read here.
"""

from __future__ import annotations

import math
import re
from typing import Any

from traces.normalize.common import (
    as_float,
    as_int,
    as_text,
    compact,
    message,
    messages_from_openai,
    parse_json,
)
from traces.normalize.types import RawSpan
from traces.sanitize import (
    MAX_TIME_NS,
    MIN_TIME_NS,
    Limits,
    RequestTooLarge,
    clean_span,
    clean_text,
    limits_from_settings,
    load_json,
)

NAME = "peekr"

# Span name prefixes the SDK's patches, harnesses and framework handlers use; the longest match wins.
NAME_KINDS = (
    ("openai.embeddings", "embedding"),
    ("openai.", "llm"),
    ("anthropic.", "llm"),
    ("bedrock.", "llm"),
    ("gemini.", "llm"),
    ("google.", "llm"),
    ("litellm.", "llm"),
    ("langchain.llm.", "llm"),
    ("langchain.chat.", "llm"),
    ("llamaindex.llm", "llm"),
    ("llamaindex.embedding", "embedding"),
    ("llamaindex.retrieve", "retriever"),
    ("llamaindex.reranking", "reranker"),
    ("llamaindex.function_call", "tool"),
    ("llamaindex.agent_step", "agent"),
    ("llamaindex.", "chain"),
    ("langchain.retriever.", "retriever"),
    ("langchain.tool.", "tool"),
    ("langchain.agent.action", "tool"),
    ("langchain.agent.", "agent"),
    ("langchain.chain.", "chain"),
    ("crewai.agent.", "agent"),
    ("crewai.", "chain"),
    ("rag.retrieve", "retriever"),
    ("rag.rerank", "reranker"),
    ("rag.generate", "chain"),
    ("chroma.query", "retriever"),
    ("qdrant.search", "retriever"),
    ("pinecone.query", "retriever"),
    ("experiment.", "chain"),
    ("tool.", "tool"),
)
PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "bedrock": "aws.bedrock",
    "gemini": "gcp.gemini",
    "google": "gcp.gemini",
}
STATUS_CODES = {"ok": 1, "error": 2, "blocked": 2}
_LLM_KINDS = ("llm",)
_DOC_SEPARATOR = "\n\n---\n\n"  # peekr.harnesses.rag joins retrieved documents with it
_HEX = re.compile(r"[0-9a-f]+")


def kind_for(name: str) -> str | None:
    best, best_len = None, -1
    for prefix, kind in NAME_KINDS:
        if name.startswith(prefix) and len(prefix) > best_len:
            best, best_len = kind, len(prefix)
    return best


def _clean_id(value: Any, what: str, sizes: tuple[int, ...]) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} is missing")
    cleaned = value.replace("-", "").lower()
    if len(cleaned) not in sizes or not _HEX.fullmatch(cleaned):
        raise ValueError(f"{what} {value[:64]!r} is not {' or '.join(str(s) for s in sizes)} hex characters")
    if cleaned.count("0") == len(cleaned):
        raise ValueError(f"{what} is all zeros")
    return cleaned


def _time_ns(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number of seconds since the epoch, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number of seconds since the epoch")
    if not MIN_TIME_NS <= value * 1e9 <= MAX_TIME_NS:  # before round(): 1e303 * 10**6 is no number
        raise ValueError(
            f"{what} {value!r} seconds since the epoch is out of range (2000-01-01 .. 2262-04-11): "
            "is it in milliseconds? The Peekr SDK sends seconds"
        )
    # time.time() has microsecond resolution: keep that, not the float's noise below it.
    return round(value * 1_000_000) * 1000


def decode_spans_request(body: bytes, limits: Limits | None = None) -> tuple[list[RawSpan], list[dict[str, Any]]]:
    """The SDK's ``{"spans": [...]}`` body: the valid spans, cleaned and bounded, and {index, span_id, reason} for
    the others. ValueError when the body is not such an object; RequestTooLarge when it is over a limit."""
    limits = limits or limits_from_settings()
    if len(body) > limits.max_decoded_bytes:
        raise RequestTooLarge(
            f"the decompressed body of {len(body)} bytes is over the {limits.max_decoded_bytes}-byte limit "
            "(PEEKR_MAX_DECODED_MB): send smaller batches"
        )
    payload = load_json(body)
    items = payload.get("spans") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ValueError('body must be a JSON object {"spans": [...]}')
    if len(items) > limits.max_spans_per_request:
        raise RequestTooLarge(
            f"the request holds {len(items)} spans, over the limit of {limits.max_spans_per_request} "
            "(PEEKR_MAX_SPANS_PER_REQUEST): send smaller batches"
        )
    raws, rejected = [], []
    for index, item in enumerate(items):
        try:
            raws.append(raw_from_peekr_json(item, limits))
        except ValueError as exc:
            span_id = item.get("span_id") if isinstance(item, dict) else None
            shown = clean_text(span_id[:64]) if isinstance(span_id, str) else None
            rejected.append({"index": index, "span_id": shown, "reason": clean_text(str(exc))})
    return raws, rejected


def raw_from_peekr_json(item: Any, limits: Limits = Limits()) -> RawSpan:  # noqa: B008 (frozen)
    """One element of the SDK's ``{"spans": [...]}`` body as a RawSpan, cleaned and bounded by traces.sanitize;
    ValueError(reason) when invalid.

    ``tenant_id`` and ``retention_class`` are kept as the attributes ``peekr.tenant_id`` and
    ``peekr.retention_class``.
    """
    if not isinstance(item, dict):
        raise ValueError("a span must be a JSON object")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name is missing")
    trace_id = _clean_id(item.get("trace_id"), "trace_id", (32,))
    span_id = _clean_id(item.get("span_id"), "span_id", (32, 16))
    parent = item.get("parent_id")
    parent_span_id = _clean_id(parent, "parent_id", (32, 16)) if parent not in (None, "") else None
    start_ns = _time_ns(item.get("start_time"), "start_time")
    end = item.get("end_time")
    end_ns = None if end is None else _time_ns(end, "end_time")
    if end_ns is not None and end_ns < start_ns:
        raise ValueError("end_time is before start_time")
    attributes = item.get("attributes")
    if attributes is None:
        attributes = {}
    elif not isinstance(attributes, dict):
        raise ValueError("attributes must be a JSON object")
    else:
        attributes = dict(attributes)
    for key in ("tenant_id", "retention_class"):
        if item.get(key) is not None:
            attributes[f"peekr.{key}"] = item[key]
    status = item.get("status")
    status = status.lower() if isinstance(status, str) else ""
    code = STATUS_CODES.get(status, 0)
    if status == "blocked":
        message_text = "blocked"
    elif code == 2:
        message_text = as_text(attributes.get("error"))
    else:
        message_text = ""
    raw = RawSpan(
        trace_id=trace_id,
        span_id=span_id,
        name=name,
        start_ns=start_ns,
        end_ns=end_ns,
        parent_span_id=parent_span_id,
        kind=0,
        attributes=attributes,
        status_code=code,
        status_message=message_text,
        scope_name="peekr",
        source="peekr",
    )
    cleaned = clean_span(raw, limits)
    if isinstance(cleaned, str):
        raise ValueError(cleaned)
    return cleaned


def _score(evaluator: str, value: Any, details: Any = None) -> dict[str, Any]:
    score: dict[str, Any] = {"evaluator": evaluator, "value": None, "passed": None, "label": None, "details": details}
    if isinstance(value, bool):
        score["value"], score["passed"] = float(value), value
    elif isinstance(value, (int, float)):
        score["value"] = as_float(value)
    elif isinstance(value, dict):
        score["value"] = as_float(value.get("score", value.get("value")))
        score["passed"] = value.get("passed") if isinstance(value.get("passed"), bool) else None
        score["label"] = as_text(value.get("label")) or None
        score["details"] = details if details is not None else value.get("details")
    elif isinstance(value, str):
        number = as_float(value)
        score["value"] = number
        score["label"] = None if number is not None else value
    return score


def sdk_scores(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """The SDK's in-process evaluations and guardrail outcomes as {evaluator, value, passed, label, details}.

    An evaluator that failed has value None and details {"error": ...}. Guardrails become one entry,
    evaluator "guardrails": passed is False when something was violated, details lists what.
    """
    scores = []
    details_by_evaluator = {
        "Hallucination": attrs.get("hallucination_details"),
        "CitationAccuracy": attrs.get("citation_details"),
    }
    evals = attrs.get("eval_scores")
    if isinstance(evals, dict):
        for evaluator, value in evals.items():
            scores.append(_score(str(evaluator), value, details_by_evaluator.get(evaluator)))
    errors = attrs.get("eval_errors")
    if isinstance(errors, dict):
        for evaluator, error in errors.items():
            scores.append(_score(str(evaluator), None, {"error": as_text(error)}))
    for key, value in attrs.items():  # re-exported through OpenTelemetry: peekr.eval.<evaluator>
        if key.startswith("peekr.eval."):
            scores.append(_score(key[len("peekr.eval.") :], value))
    violations = attrs.get("guardrail_violations")
    if isinstance(violations, str):  # peekr.otel joins them with commas
        violations = [v for v in violations.split(",") if v]
    if violations is None and isinstance(attrs.get("peekr.guardrail_violations"), str):
        violations = [v for v in attrs["peekr.guardrail_violations"].split(",") if v]
    warnings = attrs.get("guardrail_warnings")
    compliance = attrs.get("compliance_violations")
    if violations or warnings or compliance:
        details = {
            "violations": list(violations or []),
            "warnings": list(warnings or []) if isinstance(warnings, list) else [as_text(warnings)],
            "compliance_violations": list(compliance or []) if isinstance(compliance, list) else [],
        }
        failed = bool(details["violations"] or details["compliance_violations"])
        scores.append(
            {
                "evaluator": "guardrails",
                "value": 0.0 if failed else 1.0,
                "passed": not failed,
                "label": "violation" if failed else "warning",
                "details": details,
            }
        )
    return scores


def _input(value: Any, kind: str | None) -> tuple[list[dict[str, Any]], str]:
    """(messages, text): LLM patches send the JSON of the messages (maybe cut short), @trace {"args", "kwargs"}."""
    data = parse_json(value)
    if isinstance(data, list) and kind in _LLM_KINDS:
        msgs = messages_from_openai(data)
        if msgs:
            return msgs, ""
    if isinstance(data, dict) and set(data) <= {"args", "kwargs"} and data:
        args, kwargs = data.get("args") or [], data.get("kwargs") or {}
        if len(args) == 1 and not kwargs and isinstance(args[0], str):
            return [], args[0]
    return [], as_text(value)


def _documents(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = attrs.get("evidence_chunks")
    if isinstance(chunks, list) and chunks:
        docs = []
        for chunk in chunks:
            if isinstance(chunk, dict):
                metadata = {k: v for k, v in chunk.items() if k not in ("id", "text", "score") and v is not None}
                docs.append(
                    {
                        "id": as_text(chunk.get("id")),
                        "content": as_text(chunk.get("text")),
                        "score": as_float(chunk.get("score")),
                        "metadata": metadata,
                    }
                )
        return docs
    joined = attrs.get("rag.retrieved_docs")
    if isinstance(joined, str) and joined:
        return [{"id": "", "content": part, "score": None, "metadata": {}} for part in joined.split(_DOC_SEPARATOR)]
    return []


def extract(raw: RawSpan) -> dict[str, Any]:
    attrs = raw.attributes
    internal = attrs.get("peekr.internal") is True or attrs.get("peekr.internal") == "true"
    if raw.source != "peekr":
        if "peekr.name" not in attrs and not internal:
            return {}
        return compact({"is_internal": internal or None, "sdk_scores": sdk_scores(attrs)})

    get = attrs.get
    kind = kind_for(raw.name)
    model = as_text(get("model"))
    if model == "unknown":
        model = ""
    input_messages, input_text = _input(get("input"), kind) if "input" in attrs else ([], "")
    if not input_text and "rag.query" in attrs:
        input_text = as_text(attrs["rag.query"])
    output = get("output")
    output_text = as_text(output)
    if kind != "llm":  # @trace stores json.dumps(result): a returned string arrives quoted
        decoded = parse_json(output)
        if isinstance(decoded, str):
            output_text = decoded
    output_messages = [message("assistant", output_text)] if kind == "llm" and output_text else []
    provider = as_text(get("provider"))
    if not provider or provider == "unknown":
        provider = PROVIDERS.get(raw.name.partition(".")[0], "")
    tool_name = as_text(get("tool"))
    if not tool_name and kind == "tool":
        tool_name = raw.name.rpartition(".")[2]
    status = error = ""
    if raw.status_code == 2:
        status = "error"
        error = as_text(get("error"))
        if raw.status_message == "blocked":
            violations = get("guardrail_violations") or get("compliance_violations") or []
            first = violations[0] if isinstance(violations, list) and violations else None
            reason = first.get("rule", "") if isinstance(first, dict) else as_text(first)
            error = f"blocked by a guardrail: {reason}" if reason else "blocked by a guardrail"
    return compact(
        {
            "kind": kind,
            "provider": provider,
            "model": model,
            "input_messages": input_messages,
            "output_messages": output_messages,
            "input_text": input_text,
            "output_text": output_text,
            "documents": _documents(attrs),
            "tool_name": tool_name if kind == "tool" or "tool" in attrs else "",
            "tool_arguments": input_text if kind == "tool" else "",
            "tool_result": output_text if kind == "tool" else "",
            "input_tokens": as_int(get("tokens_input")),
            "output_tokens": as_int(get("tokens_output")),
            "total_tokens": as_int(get("tokens_total")),
            "status": status,
            "error": error,
            "session_id": as_text(get("session_id")),
            "user_id": as_text(get("user_id")),
            "is_internal": internal or None,
            "sdk_scores": sdk_scores(attrs),
        }
    )
