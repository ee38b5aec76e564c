"""A small builder for realistic test traces: times in seconds from the trace start, ids made up in order."""

from __future__ import annotations

from typing import Any

from insights.detectors.types import SpanView

T0_MS = 1_760_000_000_000.0  # 2025-10-09, epoch milliseconds

TICKET = (
    "Hi, I was charged twice for my Pro subscription this month (order #48213 and #48214). "
    "I only have one workspace. Can you refund the duplicate charge? This is the second time it happened."
)


class TraceBuilder:
    def __init__(self, service: str = "support-api", attributes: dict[str, Any] | None = None) -> None:
        self.service = service
        self.attributes = attributes or {}
        self.spans: list[SpanView] = []

    def span(
        self,
        name: str,
        *,
        at: float,
        dur: float | None,
        parent: SpanView | None = None,
        kind: str = "span",
        **fields: Any,
    ) -> SpanView:
        start = T0_MS + at * 1000
        fields.setdefault("status", "ok")
        fields.setdefault("service_name", self.service)
        attributes = {**self.attributes, **fields.pop("attributes", {})}
        span = SpanView(
            span_id=f"{len(self.spans) + 1:016x}",
            parent_span_id=parent.span_id if parent else None,
            name=name,
            kind=kind,
            start_ms=start,
            end_ms=start + dur * 1000 if dur is not None else None,
            duration_ms=dur * 1000 if dur is not None else None,
            attributes=attributes,
            **fields,
        )
        self.spans.append(span)
        return span

    def request(self, name: str = "POST /v1/answer", *, dur: float | None, at: float = 0.0) -> SpanView:
        method, _, route = name.partition(" ")
        return self.span(
            name, at=at, dur=dur, attributes={"http.request.method": method, "http.route": route}, status="unset"
        )

    def llm(
        self,
        *,
        parent: SpanView | None,
        at: float,
        dur: float | None,
        name: str = "openai.chat.completions",
        model: str = "gpt-4o-mini",
        system: str = "",
        user: str = "",
        output: str = "",
        messages: list[dict[str, Any]] | None = None,
        **fields: Any,
    ) -> SpanView:
        if messages is None:
            messages = ([{"role": "system", "content": system}] if system else []) + (
                [{"role": "user", "content": user}] if user else []
            )
        last_user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        fields.setdefault("provider", "openai")
        return self.span(
            name,
            at=at,
            dur=dur,
            parent=parent,
            kind=fields.pop("kind", "llm"),
            model=model,
            input_messages=tuple(messages),
            input_text=last_user,
            output_text=output,
            **fields,
        )

    def embed(
        self, *, parent: SpanView | None, at: float, dur: float, text: str, model: str = "text-embedding-3-small"
    ) -> SpanView:
        return self.span(
            "openai.embeddings",
            at=at,
            dur=dur,
            parent=parent,
            kind="embedding",
            model=model,
            provider="openai",
            input_text=text,
        )

    def tool(
        self, tool_name: str, *, parent: SpanView | None, at: float, dur: float, arguments: str = "", result: str = "",
        **fields: Any,
    ) -> SpanView:  # fmt: skip
        return self.span(
            f"execute_tool {tool_name}",
            at=at,
            dur=dur,
            parent=parent,
            kind="tool",
            tool_name=tool_name,
            tool_arguments=arguments,
            tool_result=result,
            **fields,
        )


def seed_trace(**builder_kw: Any) -> TraceBuilder:
    """The seed product's headline: two independent chat calls, 5.7 s then 4.8 s, in a 10.6 s request."""
    t = TraceBuilder(**builder_kw)
    root = t.request("POST /v1/answer", dur=10.6)
    t.llm(
        parent=root,
        at=0.05,
        dur=5.7,
        system="You are a support assistant. Summarise the customer's issue in two sentences.",
        user=TICKET,
        output="The customer was charged twice for one Pro subscription this month (orders #48213 and #48214). "
        "They ask for a refund of the duplicate charge and note it has happened before.",
        input_tokens=412,
        output_tokens=48,
        cost=0.000091,
    )
    t.llm(
        parent=root,
        at=5.75,
        dur=4.8,
        system="Classify the support ticket: priority P1-P4 and product area. Answer as 'P<n> | <area>'.",
        user=TICKET,
        output="P2 | Billing",
        input_tokens=398,
        output_tokens=6,
        cost=0.000063,
    )
    return t


def staircase_trace(iterations: int = 15) -> TraceBuilder:
    """A plain for loop over a contract: embed a clause, then extract its obligations; nothing shared across turns.

    Each iteration is a 0.4 s embedding then the extraction: 17.0 s per iteration, two take 19.0 s and one
    37.0 s, 279.0 s in all with the default 15 iterations, as in the seed product's example.
    """
    t = TraceBuilder(service="contracts-worker")
    root = t.span("ingest_contract", at=0.0, dur=None, kind="chain")
    at = 0.1
    for i in range(iterations):
        clause = (
            f"Clause {i + 1}. The Supplier shall deliver batch {i + 1} of the goods within {10 + i} days of the order."
        )
        extract = {3: 18.6, 6: 36.6, 11: 18.6}.get(i, 16.6)
        t.embed(parent=root, at=at, dur=0.4, text=clause)
        t.llm(
            parent=root,
            at=at + 0.4,
            dur=extract,
            system="Extract the obligations in this contract clause as JSON: party, action, deadline.",
            user=clause,
            output=f'{{"party": "Supplier", "action": "deliver batch {i + 1}", "deadline_days": {10 + i}}}',
        )
        at += 0.4 + extract
    return t
