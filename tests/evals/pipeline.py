"""Helpers for the evaluation pipeline tests: a RAG trace stored through ingestion, and a judge rule."""

from __future__ import annotations

import json
import time

from evals.services import eval_rule_create
from tests.base import hex_id, make_judge_connection, make_raw_span
from traces.models import Trace
from traces.services import spans_ingest

DOCS = ["Paris is the capital of France.", "The Eiffel Tower is in Paris."]
ANSWER = "Paris is the capital of France. Paris has 40 million inhabitants."
SUPPORTED, UNSUPPORTED = "Paris is the capital of France.", "Paris has 40 million inhabitants."


def rag_trace(project, *, answer: str = ANSWER, model: str = "gpt-4o-mini", error: bool = False, **root_kw) -> Trace:
    """root -> retriever (two documents) -> chat call answering from them; stored through spans_ingest."""
    trace_id, start = hex_id(16), time.time() - 30
    root = make_raw_span(trace_id=trace_id, name="rag.answer", start=start, duration=2.0, **root_kw)
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
    llm = make_raw_span(
        trace_id=trace_id,
        parent_span_id=root.span_id,
        name=f"chat {model}",
        kind=3,
        start=start + 0.4,
        duration=1.2,
        status_code=2 if error else 0,
        status_message="upstream 500" if error else "",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": 120,
            "gen_ai.usage.output_tokens": 30,
            "gen_ai.input.messages": json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "Tell me about Paris."}]}]
            ),
            "gen_ai.output.messages": json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
            ),
        },
    )
    spans_ingest(project=project, raws=[root, retriever, llm])
    return Trace.objects.get(project=project, trace_id=trace_id)


def judge_rule(project, judge, *, evaluators=("faithfulness",), sample_rate=1.0, **kw):
    return eval_rule_create(
        project=project,
        name=kw.pop("name", "faithfulness on llm spans"),
        evaluators=list(evaluators),
        filter={"kind": "llm"},
        sample_rate=sample_rate,
        judge_connection_id=make_judge_connection(project, judge.base_url).pk,
        judge_model=kw.pop("judge_model", "judge-model"),
        **kw,
    )
