"""Faithfulness (ragas): the share of the answer's claims that the context supports, with every claim kept.

ragas makes two calls: statement generation (the answer broken into claims), then NLI verdicts of those
claims against the context. The value is ragas's own ``ascore``; the claims, verdicts and reasons are the
structured outputs of those two calls, kept as they came.
"""

from __future__ import annotations

import math
import time
from typing import Any

from evals.evaluators.base import Evaluator
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget
from evals.judge_client import (
    JudgeClient,
    is_llm_answer,
    judge_answer,
    judge_cache_key,
    judge_context,
    judge_question,
    prepare_ragas,
    ragas_version,
    record_outputs,
)


class Faithfulness(Evaluator):
    name = "faithfulness"
    kind = "judge"
    target = "span"
    description = "Share of the answer's claims supported by the context (retrieved documents, else the prompt)."

    version = f"ragas-{ragas_version()}/1"

    def version_for(self, config: EvalConfig | None = None) -> str:
        return self.version

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        return is_llm_answer(target) and bool(judge_question(target).strip()) and bool(judge_context(target))

    def inputs(self, target: EvalTarget) -> dict[str, Any]:
        return {"question": judge_question(target), "answer": judge_answer(target), "context": judge_context(target)}

    def cache_key(self, target: EvalTarget, config: EvalConfig, model: str) -> str:
        return judge_cache_key(self.name, self.version_for(config), model, self.inputs(target))

    async def ajudge(self, target: EvalTarget, config: EvalConfig, client: JudgeClient) -> EvalResult:
        inputs = self.inputs(target)
        prepare_ragas()
        from ragas.metrics.collections import Faithfulness as RagasFaithfulness
        from ragas.metrics.collections.faithfulness.util import NLIStatementOutput, StatementGeneratorOutput

        llm = client.ragas_llm()
        outputs = record_outputs(llm)
        metric = RagasFaithfulness(llm=llm)
        mark, started = client.checkpoint(), time.perf_counter()  # after the imports: a one-off cost
        with client.errors():
            scored = await metric.ascore(
                user_input=inputs["question"], response=inputs["answer"], retrieved_contexts=inputs["context"]
            )
        generated = next((o.statements for o in outputs if isinstance(o, StatementGeneratorOutput)), [])
        judged = next((o.statements for o in outputs if isinstance(o, NLIStatementOutput)), [])
        claims = [
            {
                "claim": s.statement,
                "verdict": "supported" if s.verdict else "unsupported",
                "reason": s.reason,
            }
            for s in judged
        ]
        supported = sum(1 for c in claims if c["verdict"] == "supported")
        details: dict[str, Any] = {"claims": claims, "supported": supported, "total": len(claims)}
        if len(generated) != len(judged):
            details["statements_generated"] = generated  # the NLI step dropped or added some; ragas scores its list
        value = float(scored.value) if scored.value is not None else math.nan
        if math.isnan(value):
            result = EvalResult(
                status="skipped",
                label="n/a",
                explanation="The answer has no claims to check.",
                details=details,
            )
        else:
            unsupported = [c["claim"] for c in claims if c["verdict"] == "unsupported"]
            explanation = f"{supported} of {len(claims)} claims supported by the context."
            if unsupported:
                explanation += " Unsupported: " + "; ".join(unsupported)
            result = EvalResult(
                value=value,
                passed=value >= config.threshold,
                label=f"{supported}/{len(claims)} supported",
                explanation=explanation,
                details=details,
            )
        return client.finish(result, mark, started)


JUDGE = Faithfulness()
