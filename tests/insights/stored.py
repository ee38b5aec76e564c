"""Traces stored through the real ingest service (OTel GenAI attributes, normalised as in production) that the
detectors have something to say about."""

from __future__ import annotations

import json
import time

from django.utils import timezone

from tests.base import hex_id, make_raw_span
from traces.models import Trace
from traces.services import spans_ingest

TICKET = (
    "Hi, I was charged twice for my Pro subscription this month (order #48213 and #48214). "
    "I only have one workspace. Can you refund the duplicate charge?"
)
SUMMARY = (
    "The customer was charged twice for one Pro subscription this month (orders #48213 and #48214) "
    "and asks for a refund of the duplicate charge."
)


def chat_attributes(*, system: str, user: str, answer: str, model: str = "gpt-4o-mini", inp=400, out=40) -> dict:
    messages = [
        {"role": "system", "parts": [{"type": "text", "content": system}]},
        {"role": "user", "parts": [{"type": "text", "content": user}]},
    ]
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": inp,
        "gen_ai.usage.output_tokens": out,
        "gen_ai.input.messages": json.dumps(messages),
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
        ),
    }


def sequential_trace(
    project,
    *,
    start: float | None = None,
    service: str = "support-api",
    first: float = 5.7,
    second: float = 4.8,
    complete: bool = True,
) -> Trace:
    """POST /v1/answer whose two independent chat calls (summarise, classify) ran one after the other."""
    trace_id = hex_id(16)
    t0 = time.time() - 120 if start is None else start
    root = make_raw_span(
        trace_id=trace_id,
        name="POST /v1/answer",
        start=t0,
        duration=first + second + 0.2,
        kind=2,
        attributes={"http.request.method": "POST", "http.route": "/v1/answer"},
        service=service,
    )
    summarise = make_raw_span(
        trace_id=trace_id,
        parent_span_id=root.span_id,
        name="chat gpt-4o-mini",
        kind=3,
        start=t0 + 0.05,
        duration=first,
        service=service,
        attributes=chat_attributes(
            system="You are a support assistant. Summarise the customer's issue in two sentences.",
            user=TICKET,
            answer=SUMMARY,
        ),
    )
    classify = make_raw_span(
        trace_id=trace_id,
        parent_span_id=root.span_id,
        name="chat gpt-4o-mini",
        kind=3,
        start=t0 + 0.05 + first + 0.05,
        duration=second,
        service=service,
        attributes=chat_attributes(
            system="Classify the support ticket: priority P1-P4 and product area. Answer as 'P<n> | <area>'.",
            user=TICKET,
            answer="P2 | Billing",
        ),
    )
    spans_ingest(project=project, raws=[root, summarise, classify])
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    if complete:
        Trace.objects.filter(pk=trace.pk).update(completed_at=timezone.now())
        trace.refresh_from_db()
    return trace


def quiet_trace(project, *, start: float | None = None, complete: bool = True) -> Trace:
    """One chat call under its request: nothing to find."""
    trace_id = hex_id(16)
    t0 = time.time() - 60 if start is None else start
    root = make_raw_span(trace_id=trace_id, name="POST /v1/hello", start=t0, duration=1.0, kind=2)
    call = make_raw_span(
        trace_id=trace_id,
        parent_span_id=root.span_id,
        name="chat gpt-4o-mini",
        kind=3,
        start=t0 + 0.1,
        duration=0.8,
        attributes=chat_attributes(system="Greet the user.", user="Hello!", answer="Hi there, how can I help?"),
    )
    spans_ingest(project=project, raws=[root, call])
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    if complete:
        Trace.objects.filter(pk=trace.pk).update(completed_at=timezone.now())
        trace.refresh_from_db()
    return trace


def duplicate_trace(project, *, start: float | None = None, model: str = "gpt-4o", complete: bool = True) -> Trace:
    """A summarize chain that sends the same prompt twice: a duplicate call, time and money wasted."""
    trace_id = hex_id(16)
    t0 = time.time() - 90 if start is None else start
    root = make_raw_span(
        trace_id=trace_id,
        name="summarize-thread",
        start=t0,
        duration=3.0,
        attributes={"openinference.span.kind": "CHAIN"},
        service="support-api",
    )
    calls = [
        make_raw_span(
            trace_id=trace_id,
            parent_span_id=root.span_id,
            name=f"chat {model}",
            kind=3,
            start=t0 + 0.1 + i * 1.4,
            duration=1.3,
            service="support-api",
            attributes=chat_attributes(
                system="Summarise the thread in three bullet points.",
                user=TICKET,
                answer=SUMMARY,
                model=model,
                inp=3000,
                out=200,
            ),
        )
        for i in range(2)
    ]
    spans_ingest(project=project, raws=[root, *calls])
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    if complete:
        Trace.objects.filter(pk=trace.pk).update(completed_at=timezone.now())
        trace.refresh_from_db()
    return trace
