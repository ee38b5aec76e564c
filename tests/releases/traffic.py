"""A simulated app's two releases, sent with the real OpenTelemetry SDK (tests.loop.traffic's Sender, extended):
each answer is JSON asked for with `gen_ai.output.type=json`, so the built-in json_valid rule scores it; a broken
answer is cut short. Shadow answers carry `peekr.traffic=shadow` and `peekr.request_key` on the root span."""

from __future__ import annotations

import json
from datetime import datetime

from opentelemetry.trace import set_span_in_context

from tests.loop.traffic import Sender


class AppSender(Sender):
    def answer(
        self,
        *,
        at: datetime,
        release: str,
        faithfulness: float,
        broken_json: bool = False,
        shadow: bool = False,
        request_key: str = "",
        question: str = "Where is my order?",
    ) -> None:
        tracer = self._tracer(release)
        start = int(at.timestamp() * 1e9)
        end = start + 900_000_000
        root_attrs = {"peekr.name": "answer_question", "peekr.eval.faithfulness": round(faithfulness, 4)}
        if shadow:
            root_attrs["peekr.traffic"] = "shadow"
        if request_key:
            root_attrs["peekr.request_key"] = request_key
        root = tracer.start_span("answer_question", start_time=start, attributes=root_attrs)
        answer = json.dumps({"answer": f"{release}: your order ships tomorrow", "question": question})
        if broken_json:
            answer = answer[:-7]
        llm = tracer.start_span("chat gpt-4o-mini", context=set_span_in_context(root), start_time=start + 1_000_000)
        llm.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.output.type": "json",
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 40,
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": question}]}]
                ),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]
                ),
            }
        )
        llm.end(end_time=end - 1_000_000)
        root.end(end_time=end)
