"""Cost of the built-in rules on one realistic llm span, in-process.

    .venv/bin/python bench/rules_cost.py            # 20,000 runs
    .venv/bin/python bench/rules_cost.py --quick    # 2,000 runs

The span is the answer step of a RAG support bot: 1-2 KB of input messages (system prompt, the retrieved
context, the question), a 500-character answer holding an email address, a phone number and a citation,
three context documents, a 30 s timeout, allowed tools and a JSON Schema set for another span name (so
``json_schema`` pays its lookup but does not apply), and the span's trace around it (retriever + llm, so
``max_turns`` runs too). ``run_rules`` runs every built-in rule on it; rules that do not apply to an llm
span (tool_failure, tool_allowed, json_valid for prose) only pay for ``applies()``.

Each run gets a fresh copy of the answer text, so no per-text cache carries over from one run to the next.
It prints the mean, median and p99 per span, in wall time and in this thread's CPU time (the rules' own
cost: on a loaded machine the wall-time p99 is mostly the scheduler's preemptions), the target being under
1 ms for all rules together, and each rule's share. It never asserts on them.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evals.evaluators import BUILTIN_RULES, get, run_rules  # noqa: E402
from evals.evaluators.types import EvalConfig, EvalTarget  # noqa: E402

TARGET_US = 1000.0

SYSTEM = (
    "You are Acme Cloud's support assistant. Answer only from the context documents below. Cite every "
    "statement with the id of the document it comes from, in square brackets, e.g. [doc-17]. If the "
    "documents do not answer the question, say so and offer to open a ticket; never invent policies, prices "
    "or deadlines. Keep answers under 120 words, in a friendly, plain tone. Do not ask for card numbers."
)
DOCUMENTS = [
    {
        "id": "doc-17",
        "content": (
            "Refunds for annual plans: customers on an annual plan can request a full refund within 30 days of "
            "purchase or renewal. After 30 days, the unused months are refunded pro rata as account credit. "
            "Refunds are issued to the original payment method within 5-7 business days."
        ),
        "score": 0.91,
        "metadata": {"title": "Refund policy", "url": "https://docs.acme.com/billing/refunds"},
    },
    {
        "id": "doc-4",
        "content": (
            "Monthly plans are not refundable. A monthly subscription can be cancelled at any time from "
            "Settings > Billing and stays active until the end of the current billing period."
        ),
        "score": 0.84,
        "metadata": {"title": "Cancelling a subscription", "source": "kb/billing/cancel.md"},
    },
    {
        "id": "doc-31",
        "content": (
            "Billing support is reachable by email at billing@acme.com or by phone on weekdays from 9am to 5pm "
            "Pacific time. Enterprise customers have a dedicated account manager."
        ),
        "score": 0.62,
        "metadata": {"title": "Contact billing", "source": "kb/billing/contact.md"},
    },
]
QUESTION = (
    "Hi, I bought the annual Team plan on March 3rd for 12 seats and we've decided to move to another tool. "
    "Can I still get my money back, and how long will it take? Also, who do I talk to about the invoice?"
)
ANSWER = (
    "Yes: annual plans can be refunded in full within 30 days of purchase, so your March 3rd Team plan "
    "qualifies [doc-17]. The refund goes back to the card you paid with and usually arrives within 5-7 "
    "business days [doc-17]. For questions about the invoice itself, write to our billing team at "
    "billing@acme.com or call them on weekdays, 9am-5pm Pacific [doc-31]. If you would rather keep the "
    "workspace until the end of the period, you can cancel from Settings > Billing instead [doc-4]. "
    "Anything else I can help with today?"
)


def build_span() -> EvalTarget:
    context = "\n\n".join(f"[{d['id']}] {d['metadata']['title']}\n{d['content']}" for d in DOCUMENTS)
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Context documents:\n\n{context}\n\nQuestion: {QUESTION}"},
    ]
    retriever = EvalTarget(
        span_id="a3f1c2d4e5b60718",
        name="retrieve kb",
        kind="retriever",
        input_text=QUESTION,
        documents=DOCUMENTS,
        status="ok",
        duration_ms=48.0,
    )
    span = EvalTarget(
        span_id="b7e2d3c4f5a60819",
        name="chat gpt-4o-mini",
        kind="llm",
        model="gpt-4o-mini",
        input_text=messages[-1]["content"],
        output_text=ANSWER,
        input_messages=messages,
        output_messages=[{"role": "assistant", "content": ANSWER}],
        context=[d["content"] for d in DOCUMENTS],
        documents=DOCUMENTS,
        status="ok",
        duration_ms=2140.0,
        ttft_ms=380.0,
        input_tokens=412,
        output_tokens=121,
        cost=0.000134,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.request.temperature": 0.2,
            "server.address": "api.openai.com",
        },
    )
    span.spans = [retriever, replace(span, spans=[])]
    return span


def config() -> EvalConfig:
    schema = {
        "type": "object",
        "required": ["intent", "urgency"],
        "properties": {"intent": {"type": "string"}, "urgency": {"type": "integer", "minimum": 1, "maximum": 5}},
    }
    return EvalConfig(
        allowed_tools=["search_kb", "get_invoice", "open_ticket"],
        json_schemas={"classify_ticket*": schema},
        max_turns=20,
        timeout_ms=30_000.0,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="2,000 runs instead of 20,000")
    args = parser.parse_args()
    runs = 2_000 if args.quick else 20_000

    cfg = config()
    base = build_span()
    first = run_rules(base, cfg, BUILTIN_RULES)
    # A pool of copies whose answer strings are distinct objects: nothing keyed on the text is reused.
    pool = [replace(base, output_text="".join([ANSWER[:-1], ANSWER[-1]])) for _ in range(64)]

    for i in range(500):  # warm-up: regex and validator caches, branch predictors
        run_rules(pool[i % len(pool)], cfg, BUILTIN_RULES)

    wall: list[float] = []
    cpu: list[float] = []  # this thread's CPU time: what the rules cost, whatever else the machine runs
    for i in range(runs):
        target = pool[i % len(pool)]
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        run_rules(target, cfg, BUILTIN_RULES)
        t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
        wall.append((t1 - t0) / 1000)
        cpu.append((c1 - c0) / 1000)

    per_rule: dict[str, list[float]] = {name: [] for name in BUILTIN_RULES}
    for i in range(min(runs, 5_000)):
        target = pool[i % len(pool)]
        for name in BUILTIN_RULES:
            evaluator = get(name)
            t0 = time.perf_counter_ns()
            if evaluator.applies(target, cfg):
                evaluator.evaluate(target, cfg)
            per_rule[name].append((time.perf_counter_ns() - t0) / 1000)

    input_bytes = sum(len(m["content"].encode()) for m in base.input_messages)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"rules cost: {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {load}")  # fmt: skip
    print(
        f"span: llm, {input_bytes:,} B of input messages, {len(ANSWER)}-char answer, {len(DOCUMENTS)} documents; "
        f"{len(BUILTIN_RULES)} built-in rules, {len(first)} apply: {', '.join(sorted(first))}"
    )
    for name, result in first.items():
        print(f"  {name:<20} {result.label:<20} {result.explanation}")
    print()
    print(f"{'rule (wall time)':<20} {'mean µs':>9} {'p50 µs':>9}")
    print("-" * 40)
    for name, values in sorted(per_rule.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"{name:<20} {statistics.fmean(values):>9.1f} {statistics.median(values):>9.1f}")
    print()
    print(f"{'run_rules, all rules':<22} {'mean µs':>9} {'p50 µs':>9} {'p99 µs':>9}   over {runs:,} spans")
    print("-" * 62)
    for label, values in (("wall time", wall), ("thread CPU time", cpu)):
        print(
            f"{label:<22} {statistics.fmean(values):>9.1f} {statistics.median(values):>9.1f} "
            f"{percentile(values, 0.99):>9.1f}"
        )
    print()
    mean, p99 = statistics.fmean(cpu), percentile(cpu, 0.99)
    verdict = "meets" if p99 < TARGET_US else "MISSES"
    print(
        f"all built-in rules on one span: mean {mean:.0f} µs, p99 {p99:.0f} µs of CPU ({verdict} the "
        f"{TARGET_US:.0f} µs target); wall p99 {percentile(wall, 0.99):.0f} µs at this load"
    )


if __name__ == "__main__":
    main()
