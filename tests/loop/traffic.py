"""Simulated production traffic for the production-loop tests, made with the real OpenTelemetry SDK.

Each trace is an app's answer: a root span (the intent) and one LLM call under it, with the GenAI
attributes an instrumentation writes, and the app's own faithfulness score as `peekr.eval.faithfulness` (how
the Peekr SDK re-exports the score of an app that runs ragas itself). Releases are resources (`service.version`), so each release has its
own TracerProvider, like a deployed process. Spans are encoded by the SDK's own OTLP encoder and posted to the
real receiver, in batches.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import set_span_in_context


@dataclass
class Planned:
    at: datetime
    release: str
    faithfulness: float
    intent: str = "answer_question"
    model: str = "gpt-4o-mini"
    duration_s: float = 1.2


class Sender:
    """One TracerProvider per release, all exporting into memory; `post` ships what was made since."""

    def __init__(self, service: str = "support-bot", environment: str = "production") -> None:
        self.service, self.environment = service, environment
        self.exporter = InMemorySpanExporter()
        self.tracers: dict[str, object] = {}

    def _tracer(self, release: str):
        if release not in self.tracers:
            resource = Resource.create(
                {
                    "service.name": self.service,
                    "service.version": release,
                    "deployment.environment": self.environment,
                }
            )
            provider = TracerProvider(resource=resource)
            provider.add_span_processor(SimpleSpanProcessor(self.exporter))
            self.tracers[release] = provider.get_tracer("support-bot")
        return self.tracers[release]

    def make(self, p: Planned) -> None:
        tracer = self._tracer(p.release)
        start = int(p.at.timestamp() * 1e9)
        end = start + int(p.duration_s * 1e9)
        root = tracer.start_span(p.intent, start_time=start)
        # The Peekr SDK's OpenTelemetry re-export: peekr.name marks it, peekr.eval.<evaluator> carries a score.
        root.set_attributes({"peekr.name": p.intent, "peekr.eval.faithfulness": round(p.faithfulness, 4)})
        llm = tracer.start_span(f"chat {p.model}", context=set_span_in_context(root), start_time=start + 1_000_000)
        llm.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": p.model,
                "gen_ai.response.model": p.model,
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 40,
            }
        )
        llm.end(end_time=end - 1_000_000)
        root.end(end_time=end)

    def post(self, client, key: str, batch: int = 400) -> int:
        spans = list(self.exporter.get_finished_spans())
        self.exporter.clear()
        for i in range(0, len(spans), batch):
            body = encode_spans(spans[i : i + batch]).SerializeToString()
            resp = client.post(
                "/v1/traces",
                data=body,
                content_type="application/x-protobuf",
                HTTP_AUTHORIZATION=f"Bearer {key}",
            )
            assert resp.status_code == 200, resp.content
        return len(spans)


def plan_hours(
    *,
    start: datetime,
    hours: int,
    per_hour: int,
    release_of: Callable[[int, int], str],
    score_of: Callable[[int, str, random.Random], float],
    seed: int = 7,
) -> list[Planned]:
    """`per_hour` traces in each of `hours` hours from `start`: release_of(hour, i), score_of(hour, release, rng)."""
    rng = random.Random(seed)
    out = []
    for h in range(hours):
        for i in range(per_hour):
            release = release_of(h, i)
            at = start + timedelta(hours=h, seconds=(i + 0.5) * 3600 / per_hour)
            out.append(Planned(at=at, release=release, faithfulness=min(1.0, max(0.0, score_of(h, release, rng)))))
    return out
