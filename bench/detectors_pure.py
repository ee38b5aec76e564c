"""Micro-benchmark: every insights detector over one synthetic 50-span trace. Target: p99 under 5 ms per trace.

    .venv/bin/python bench/detectors_pure.py [--runs 3000]

The trace is a realistic agent request: an HTTP root, retrieval, two independent chat calls back to back, an
eight-step tool-calling agent re-sending a growing history (1-3 KB prompts), an embedding fan-out, a retry and
a judge before the response. "warm" is the worker's steady state (operation names already normalised once, as
the cache keeps them across traces); "cold" clears that cache before every run. Wall time includes waiting for a
busy CPU; CPU time (this thread's) is the detectors' own cost, the steadier figure on a shared machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from insights.detectors import detect_all  # noqa: E402
from insights.detectors.ops import normalise_operation  # noqa: E402
from insights.detectors.types import SpanView  # noqa: E402

T0 = 1_760_000_000_000.0
LOREM = (
    "Acme's refund policy: duplicate charges are refunded within 5 business days once confirmed by billing. "
    "Annual plans are prorated; monthly plans are not. Enterprise contracts follow their own terms. "
)


def synthetic_trace() -> list[SpanView]:
    spans: list[SpanView] = []

    def add(name: str, kind: str, at: float, dur: float, parent: SpanView | None = None, **fields) -> SpanView:
        start = T0 + at * 1000
        fields.setdefault("status", "ok")
        span = SpanView(
            span_id=f"{len(spans) + 1:016x}",
            parent_span_id=parent.span_id if parent else None,
            name=name,
            kind=kind,
            start_ms=start,
            end_ms=start + dur * 1000,
            duration_ms=dur * 1000,
            service_name="support-api",
            attributes=fields.pop("attributes", {}),
            **fields,
        )
        spans.append(span)
        return span

    def chat(parent: SpanView, at: float, dur: float, messages: list[dict], output: str, **fields) -> SpanView:
        return add(
            "openai.chat.completions",
            "llm",
            at,
            dur,
            parent,
            model=fields.pop("model", "gpt-4o-mini"),
            provider="openai",
            input_messages=tuple(messages),
            input_text=messages[-1]["content"],
            output_text=output,
            input_tokens=fields.pop("input_tokens", 800),
            output_tokens=120,
            cost=fields.pop("cost", 0.0004),
            **fields,
        )

    root = add("POST /v1/answer", "span", 0.0, 60.0, attributes={"http.request.method": "POST"})
    ticket = "I was charged twice for my Pro plan this month, please refund the duplicate. " * 4
    add("retrieve_policies", "retriever", 0.0, 0.3, root, input_text=ticket, output_text=LOREM * 6)
    chat(root, 0.3, 5.7, [{"role": "system", "content": "Summarise."}, {"role": "user", "content": ticket}], LOREM)
    chat(root, 6.0, 4.8, [{"role": "system", "content": "Classify."}, {"role": "user", "content": ticket}], "P2")

    agent = add("invoke_agent resolver", "agent", 11.0, 30.0, root)
    history = [
        {"role": "system", "content": "You resolve billing tickets with tools. " + LOREM * 4},
        {"role": "user", "content": ticket},
    ]
    at = 11.0
    for step in range(8):
        result = f'{{"invoice": "INV-{step}", "amount": 49.0, "status": "paid", "note": "{LOREM[:120]}"}}'
        chat(agent, at, 2.0, history, f'lookup_invoice({{"n": {step}}})', input_tokens=1_000 + step * 900)
        add("execute_tool lookup_invoice", "tool", at + 2.0, 0.5, agent, tool_name="lookup_invoice",
            tool_arguments=f'{{"n": {step}}}', tool_result=result)  # fmt: skip
        history = [
            *history,
            {"role": "assistant", "content": "", "tool_calls": [{"id": f"c{step}", "name": "lookup_invoice"}]},
            {"role": "tool", "content": result, "tool_call_id": f"c{step}"},
        ]
        at += 2.6

    index_step = add("index_attachments", "chain", 32.0, 3.0, root)
    for i in range(12):
        add("openai.embeddings", "embedding", 32.0 + (i % 3) * 0.2, 0.2, index_step, model="text-embedding-3-small",
            provider="openai", input_text=f"attachment chunk {i}: {LOREM[:200]}", cost=0.00001)  # fmt: skip
    for i in range(3):
        add("openai.chat.completions", "llm", 36.0 + i, 0.5, root, model="gpt-4o", provider="openai",
            status="error", error="RateLimitError: Error code: 429", input_text=ticket)  # fmt: skip
    answer = "Refund issued for the duplicate charge. " + LOREM
    chat(root, 39.5, 8.0, history[:2], answer, model="gpt-4o", cost=0.03, input_tokens=9_000)
    judge = [{"role": "system", "content": "You are an impartial judge. Rate the faithfulness of the answer."}]
    chat(root, 48.0, 2.3, [*judge, {"role": "user", "content": f"Answer: {answer}"}], '{"score": 4}', model="gpt-4o")
    while len(spans) < 50:
        add("render_template", "span", 50.5, 0.01, root)
    return spans


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    runs = parser.parse_args().runs
    spans = synthetic_trace()
    findings = detect_all(spans)
    print(f"{len(spans)} spans, {len(findings)} findings: {', '.join(sorted({f.detector for f in findings}))}")

    for label, clear in (("warm", False), ("cold", True)):
        wall, cpu = [], []
        for _ in range(runs):
            if clear:
                normalise_operation.cache_clear()
            started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
            detect_all(spans)
            cpu.append((time.thread_time_ns() - started_cpu) / 1000)
            wall.append((time.perf_counter_ns() - started) / 1000)
        print(
            f"{label}: wall p50 {statistics.median(wall):,.0f} µs  p99 {percentile(wall, 0.99):,.0f} µs | "
            f"cpu p50 {statistics.median(cpu):,.0f} µs  p99 {percentile(cpu, 0.99):,.0f} µs  "
            f"per trace, all detectors ({runs} runs)"
        )


if __name__ == "__main__":
    main()
