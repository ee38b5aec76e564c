"""Factories for the review tests: a rich agent trace stored through ingestion, queues, reviewed items."""

from __future__ import annotations

import json
import time

from annotations import services
from tests.base import hex_id, make_raw_span
from traces.models import Trace
from traces.services import spans_ingest

DOCS = ["Refunds are accepted within 30 days of purchase.", "Refunds go back to the original card."]
QUESTION = "Can I get a refund for my order 1234 from last week?"
BAD_ANSWER = "Yes, refunds are accepted within 90 days and paid in cash."


def agent_trace(project, *, question: str = QUESTION, answer: str = BAD_ANSWER, model: str = "gpt-4o-mini") -> Trace:
    """root -> retriever (two documents) -> tool call (lookup_order) -> chat call with the whole history."""
    trace_id, start = hex_id(16), time.time() - 30
    root = make_raw_span(trace_id=trace_id, name="support.answer", start=start, duration=3.0)
    retriever = make_raw_span(
        trace_id=trace_id,
        parent_span_id=root.span_id,
        name="retrieve",
        start=start + 0.1,
        duration=0.2,
        attributes={
            "openinference.span.kind": "RETRIEVER",
            **{f"retrieval.documents.{i}.document.content": d for i, d in enumerate(DOCS)},
            **{f"retrieval.documents.{i}.document.id": f"d{i + 1}" for i in range(len(DOCS))},
        },
    )
    tool = make_raw_span(
        trace_id=trace_id,
        parent_span_id=root.span_id,
        name="execute_tool lookup_order",
        start=start + 0.4,
        duration=0.2,
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "lookup_order",
            "gen_ai.tool.call.arguments": '{"order_id": "1234"}',
            "gen_ai.tool.call.result": '{"status": "delivered", "days_ago": 6}',
        },
    )
    history = [
        {"role": "system", "parts": [{"type": "text", "content": "You are a support agent."}]},
        {"role": "user", "parts": [{"type": "text", "content": question}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "lookup_order",
                                         "arguments": {"order_id": "1234"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1",
                                    "response": '{"status": "delivered", "days_ago": 6}'}]},
    ]  # fmt: skip
    llm = make_raw_span(
        trace_id=trace_id,
        parent_span_id=root.span_id,
        name=f"chat {model}",
        kind=3,
        start=start + 0.8,
        duration=1.5,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": 300,
            "gen_ai.usage.output_tokens": 40,
            "gen_ai.input.messages": json.dumps(history),
            "gen_ai.output.messages": json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
            ),
            "gen_ai.usage.total_tokens": 340,
            "traceloop.prompt.version": "support-v7",
        },
    )
    spans_ingest(project=project, raws=[root, retriever, tool, llm])
    return Trace.objects.get(project=project, trace_id=trace_id)


def make_queue(project, name: str = "review", **kw):
    return services.queue_create(project=project, name=name, **kw)


def reviewed_item(queue, trace, reviewer, **annotation):
    """Queue a trace and review it; returns the item (completed for a one-review queue)."""
    (item,) = services.queue_items_add(queue=queue, trace_pks=[trace.pk])
    services.annotation_submit(item=item, reviewer=reviewer, **annotation)
    item.refresh_from_db()
    return item
