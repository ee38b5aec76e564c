"""Context precision (ragas): were the retrieved documents useful, and were the useful ones ranked first?

Traces carry no reference answer, so this is ragas's reference-free variant
(``ContextPrecisionWithoutReference``, which ragas also calls context utilization): one judge call per
document asks whether it was useful in arriving at the answer, and the score is the average precision of
those verdicts in retrieval order. The value is ragas's ``ascore``; every document's verdict and reason is
kept. It needs retrieved documents: an LLM span without retrievers before it has nothing to rank.
"""

from __future__ import annotations

import time
from typing import Any

from evals.evaluators.base import Evaluator
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget
from evals.judge_client import (
    JudgeClient,
    is_llm_answer,
    judge_answer,
    judge_cache_key,
    judge_question,
    prepare_ragas,
    ragas_version,
    record_outputs,
    retrieved_context,
)

_PREVIEW_CHARS = 200


class ContextPrecision(Evaluator):
    name = "context_precision"
    kind = "judge"
    target = "span"
    version = f"ragas-{ragas_version()}/without-reference/1"
    description = "Average precision of the retrieved documents, each judged useful or not for the answer."

    def version_for(self, config: EvalConfig | None = None) -> str:
        return self.version

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        return is_llm_answer(target) and bool(judge_question(target).strip()) and bool(retrieved_context(target))

    def inputs(self, target: EvalTarget) -> dict[str, Any]:
        return {
            "question": judge_question(target),
            "answer": judge_answer(target),
            "context": retrieved_context(target),
        }

    def cache_key(self, target: EvalTarget, config: EvalConfig, model: str) -> str:
        return judge_cache_key(self.name, self.version_for(config), model, self.inputs(target))

    async def ajudge(self, target: EvalTarget, config: EvalConfig, client: JudgeClient) -> EvalResult:
        inputs = self.inputs(target)
        prepare_ragas()
        from ragas.metrics.collections import ContextPrecisionWithoutReference
        from ragas.metrics.collections.context_precision.util import ContextPrecisionOutput

        llm = client.ragas_llm()
        outputs = record_outputs(llm)
        metric = ContextPrecisionWithoutReference(llm=llm)
        mark, started = client.checkpoint(), time.perf_counter()  # after the imports: a one-off cost
        with client.errors():
            scored = await metric.ascore(
                user_input=inputs["question"], response=inputs["answer"], retrieved_contexts=inputs["context"]
            )
        verdicts = [o for o in outputs if isinstance(o, ContextPrecisionOutput)]
        ids = _document_ids(target, inputs["context"])
        documents = [
            {
                "rank": i + 1,
                "id": ids[i],
                "useful": bool(v.verdict),
                "verdict": "useful" if v.verdict else "not useful",
                "reason": v.reason,
                "content": content[:_PREVIEW_CHARS],
            }
            for i, (content, v) in enumerate(zip(inputs["context"], verdicts, strict=False))
        ]
        useful = sum(1 for d in documents if d["useful"])
        # ragas adds 1e-10 to the denominator: 0.9999999999 for a perfect ranking
        value = min(1.0, max(0.0, round(float(scored.value), 6)))
        result = EvalResult(
            value=value,
            passed=value >= config.threshold,
            label=f"{useful}/{len(documents)} useful",
            explanation=f"{useful} of {len(documents)} retrieved documents were useful for the answer.",
            details={"documents": documents, "useful": useful, "total": len(documents)},
        )
        return client.finish(result, mark, started)


def _document_ids(target: EvalTarget, contents: list[str]) -> list[str]:
    """The id of each document, matched by content to the documents the spans carry ("" when unknown)."""
    by_content: dict[str, str] = {}
    for doc in [*target.documents, *(d for s in target.spans for d in s.documents)]:
        if isinstance(doc, dict) and doc.get("content") and doc.get("id") is not None:
            by_content.setdefault(str(doc["content"]), str(doc["id"]))
    return [by_content.get(c, "") for c in contents]


JUDGE = ContextPrecision()
