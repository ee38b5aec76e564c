"""Answer relevancy (ragas): does the answer address the question that was asked?

ragas asks the judge, three times, for the question the answer would answer (and whether the answer is
noncommittal), embeds those questions and the real one through the same endpoint (/v1/embeddings), and
scores the mean cosine similarity (0 when every answer was noncommittal). The value is ragas's ``ascore``;
the generated questions and each one's similarity are kept.
"""

from __future__ import annotations

import math
import time
from typing import Any

from evals.evaluators.base import Evaluator
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget
from evals.judge_client import (
    DEFAULT_EMBEDDING_MODEL,
    JudgeClient,
    is_llm_answer,
    judge_answer,
    judge_cache_key,
    judge_question,
    prepare_ragas,
    ragas_version,
    record_outputs,
)


class AnswerRelevancy(Evaluator):
    name = "answer_relevancy"
    kind = "judge"
    target = "span"
    version = f"ragas-{ragas_version()}/1"
    description = "How directly the answer addresses the question (ragas: generated questions vs the real one)."

    def version_for(self, config: EvalConfig | None = None) -> str:
        return self.version

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        return is_llm_answer(target) and bool(judge_question(target).strip())

    def inputs(self, target: EvalTarget, embedding_model: str = DEFAULT_EMBEDDING_MODEL) -> dict[str, Any]:
        return {"question": judge_question(target), "answer": judge_answer(target), "embedding_model": embedding_model}

    def cache_key(
        self, target: EvalTarget, config: EvalConfig, model: str, *, embedding_model: str = DEFAULT_EMBEDDING_MODEL
    ) -> str:
        return judge_cache_key(self.name, self.version_for(config), model, self.inputs(target, embedding_model))

    async def ajudge(self, target: EvalTarget, config: EvalConfig, client: JudgeClient) -> EvalResult:
        inputs = self.inputs(target, client.config.embedding_model)
        prepare_ragas()
        from ragas.metrics.collections import AnswerRelevancy as RagasAnswerRelevancy

        llm = client.ragas_llm()
        outputs = record_outputs(llm)
        embeddings = client.ragas_embeddings()
        vectors = _record_vectors(embeddings)
        metric = RagasAnswerRelevancy(llm=llm, embeddings=embeddings)
        mark, started = client.checkpoint(), time.perf_counter()  # after the imports: a one-off cost
        with client.errors():
            scored = await metric.ascore(user_input=inputs["question"], response=inputs["answer"])

        generated = [o for o in outputs if getattr(o, "question", "")]
        question_vec = vectors.get(inputs["question"])
        questions = [
            {
                "question": o.question,
                "noncommittal": bool(o.noncommittal),
                "similarity": _cosine(vectors.get(o.question), question_vec),
            }
            for o in generated
        ]
        noncommittal = bool(questions) and all(q["noncommittal"] for q in questions)
        raw_value = float(scored.value) if scored.value is not None else math.nan
        details: dict[str, Any] = {
            "questions": questions,
            "noncommittal": noncommittal,
            "embedding_model": client.config.embedding_model,
        }
        if math.isnan(raw_value):
            result = EvalResult(
                status="error",
                error="ragas returned no score (an embedding of zero length?)",
                details=details,
            )
            return client.finish(result, mark, started)
        value = min(1.0, max(0.0, raw_value))  # cosine similarity can dip below 0 with some embedders
        if value != raw_value:
            details["ragas_value"] = raw_value
        if noncommittal:
            explanation = "The answer is noncommittal (evasive or vague)."
        else:
            explanation = f"Questions the answer would answer, vs the question asked: mean similarity {value:.2f}."
        result = EvalResult(
            value=value,
            passed=value >= config.threshold,
            label="noncommittal" if noncommittal else "",
            explanation=explanation,
            details=details,
        )
        return client.finish(result, mark, started)


def _record_vectors(embeddings: Any) -> dict[str, list[float]]:
    """Keep the vector of every text ragas embeds, to report each generated question's similarity."""
    vectors: dict[str, list[float]] = {}
    aembed_text, aembed_texts = embeddings.aembed_text, embeddings.aembed_texts

    async def recording_aembed_text(text: str, **kwargs: Any) -> list[float]:
        vector = await aembed_text(text, **kwargs)
        vectors[text] = list(vector)
        return vector

    async def recording_aembed_texts(texts: list[str], **kwargs: Any) -> list[list[float]]:
        result = await aembed_texts(texts, **kwargs)
        for text, vector in zip(texts, result, strict=False):
            vectors[text] = list(vector)
        return result

    embeddings.aembed_text = recording_aembed_text
    embeddings.aembed_texts = recording_aembed_texts
    return vectors


def _cosine(a: list[float] | None, b: list[float] | None) -> float | None:
    if not a or not b or len(a) != len(b):
        return None
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return round(dot / norm, 6) if norm else None


JUDGE = AnswerRelevancy()
