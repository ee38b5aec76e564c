"""Turn a RawSpan into a NormalizedSpan: one module per convention, registered in CONVENTIONS below.

Each module's ``extract(raw)`` returns only the fields it found. When two conventions set the same
field, the one earlier in CONVENTIONS wins, field by field (a later one still fills what the earlier left
empty):

1. ``peekr``: the Peekr SDK's own spans (source "peekr"); their attribute names are unambiguous.
2. ``langfuse``: ``langfuse.*`` attributes are set deliberately by the user to override the rest
   (Langfuse itself ranks them first).
3. ``openinference``: more faithful than the ``gen_ai.*`` copies OpenInference adds next to its own names
   (its ``gen_ai.tool.call.arguments`` on a TOOL span holds the tool's schema, not the arguments).
4. ``traceloop``: Traceloop's additions and its legacy flat keys.
5. ``genai``: the OpenTelemetry GenAI semantic conventions, current and deprecated names: the common
   ground, so it comes last and fills whatever is left.

Status: an error anywhere wins: the OTel status code 2, ``error.type``, Langfuse's level ERROR or the
SDK's "error"/"blocked". The message is the module's (Langfuse status_message, the SDK's error), else the
OTel status message or the ``exception`` event (see ``common.status_of``).

Fallbacks, applied after the merge:
- kind: "llm" when a model and tokens or messages are present ("embedding" when the name says so),
  "retriever" with documents, "tool" with a tool name, else "span";
- session_id / user_id: the generic ``session.id`` / ``user.id`` attributes;
- service_name: the resource's ``service.name``; release: ``langfuse.release`` (then ``langfuse.version``),
  else the resource's ``service.version`` (``deployment.environment`` is an environment, not a release);
- traffic: "shadow" when ``peekr.traffic`` = "shadow" (a span attribute or a resource attribute), or when the
  resource's ``deployment.environment[.name]`` is "shadow": a candidate's answer to a copy of a real request,
  invisible to users; request_key: ``peekr.request_key`` (span, else resource), the same on the production
  answer and its shadow twin so the two pair up;
- model_version: ``gen_ai.response.model`` when it differs from the requested model (set by ``genai``);
- total_tokens = input + output when missing;
- input_text: the last user message; output_text: the first assistant message (a message that only calls
  tools reads as ``name(arguments)``), when no convention gave a text;
- cost: kept when the span carries one (Langfuse cost_details, ``gen_ai.usage.cost``); otherwise priced
  from the model (``model_version`` first) and tokens, only for "llm" and "embedding" spans, whose parents
  often repeat their usage (see traces.pricing; ``prices`` are a project's overrides).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from traces.normalize import genai, langfuse, openinference, peekr, traceloop
from traces.normalize.common import as_text, input_text_from, output_text_from, status_of
from traces.normalize.types import NormalizedSpan, RawSpan
from traces.pricing import cost_for

CONVENTIONS = (peekr, langfuse, openinference, traceloop, genai)
PRICED_KINDS = ("llm", "embedding")

__all__ = ["CONVENTIONS", "apply_log_events", "normalize"]


def _fallback_kind(raw: RawSpan, f: dict[str, Any]) -> str:
    if f.get("model") and (
        f.get("input_tokens") is not None
        or f.get("output_tokens") is not None
        or f.get("input_messages")
        or f.get("output_messages")
    ):
        return "embedding" if "embed" in raw.name.lower() or "embed" in f["model"].lower() else "llm"
    if f.get("documents"):
        return "retriever"
    if f.get("tool_name"):
        return "tool"
    return "span"


SHADOW = "shadow"


def _traffic(fields: dict[str, Any], attrs: dict, resource: dict) -> None:
    traffic = attrs.get("peekr.traffic", resource.get("peekr.traffic"))
    env = resource.get("deployment.environment.name") or resource.get("deployment.environment")
    if as_text(traffic).strip().lower() == SHADOW or as_text(env).strip().lower() == SHADOW:
        fields["traffic"] = SHADOW
    key = attrs.get("peekr.request_key", resource.get("peekr.request_key"))
    if key is not None and as_text(key).strip():
        fields["request_key"] = as_text(key).strip()


def normalize(raw: RawSpan, *, prices: dict | None = None) -> NormalizedSpan:
    """The first-class fields of one span, read by every convention that recognises it."""
    fields: dict[str, Any] = {}
    used: list[str] = []
    for module in CONVENTIONS:
        found = module.extract(raw)
        if found:
            used.append(module.NAME)
            for key, value in found.items():
                if key not in fields:
                    fields[key] = value

    status, error = status_of(raw)
    if fields.get("status") == "error":
        status, error = "error", fields.get("error") or error
    fields["status"], fields["error"] = status, error

    attrs, resource = raw.attributes, raw.resource
    if "kind" not in fields:
        fields["kind"] = _fallback_kind(raw, fields)
    if "session_id" not in fields and "session.id" in attrs:
        fields["session_id"] = as_text(attrs["session.id"])
    if "user_id" not in fields and "user.id" in attrs:
        fields["user_id"] = as_text(attrs["user.id"])
    if "service.name" in resource:
        fields["service_name"] = as_text(resource["service.name"])
    if "release" not in fields and "service.version" in resource:
        fields["release"] = as_text(resource["service.version"])

    _traffic(fields, attrs, resource)

    inp, out = fields.get("input_tokens"), fields.get("output_tokens")
    if fields.get("total_tokens") is None and (inp is not None or out is not None):
        fields["total_tokens"] = (inp or 0) + (out or 0)
    if not fields.get("input_text") and fields.get("input_messages"):
        fields["input_text"] = input_text_from(fields["input_messages"])
    if not fields.get("output_text") and fields.get("output_messages"):
        fields["output_text"] = output_text_from(fields["output_messages"])
    if fields.get("cost") is None and fields["kind"] in PRICED_KINDS and (inp is not None or out is not None):
        model = fields.get("model_version") or fields.get("model") or ""
        cost = cost_for(model, inp, out, prices)
        if cost is None and model != fields.get("model"):
            cost = cost_for(fields.get("model") or "", inp, out, prices)
        fields["cost"] = cost

    fields["conventions"] = used
    return NormalizedSpan(**fields)


def apply_log_events(norm: NormalizedSpan, events: list) -> NormalizedSpan:
    """Merge GenAI message log records (traces.otlp.LogEvent, one span's) into its messages and texts.

    Idempotent: the messages the events describe replace the span's (a span and its records can arrive
    in any order, and the records are re-applied whenever one more arrives). A text that was derived from
    the old messages is derived again; a text set by a convention is kept.
    """
    if not events:
        return norm
    ordered = sorted(events, key=lambda e: e.time_ns or 0)
    inputs, outputs = genai.messages_from_events((e.event_name, e.attributes, e.body) for e in ordered)
    if not inputs and not outputs:
        return norm
    changes: dict[str, Any] = {}
    if inputs:
        if not norm.input_text or norm.input_text == input_text_from(norm.input_messages):
            changes["input_text"] = input_text_from(inputs)
        changes["input_messages"] = inputs
    if outputs:
        if not norm.output_text or norm.output_text == output_text_from(norm.output_messages):
            changes["output_text"] = output_text_from(outputs)
        changes["output_messages"] = outputs
    if genai.NAME not in norm.conventions:
        changes["conventions"] = [*norm.conventions, genai.NAME]
    return replace(norm, **changes)
