"""Judge on the critical path: the request waited for an evaluation of its own answer.

Rule. A judge is a span of kind "evaluator", or an llm span marked as one: attribute ``peekr.internal`` (the
Peekr SDK's own judge calls), ``gen_ai.operation.name`` "evaluate"/"evaluation", a ``gen_ai.evaluation.*`` or
``peekr.evaluator`` attribute, a name saying judge/grader/evaluator/scorer, or a system prompt that casts the
model as one ("You are an impartial judge", "grade the answer", "rate the faithfulness of ...", see
``_JUDGE_PROMPT_RE``; only the first ``PROMPT_SCAN_CHARS`` of system messages are read). Only the outermost
judge counts (an evaluator span and the llm call inside it are one judge).

It is on the critical path when its trace answers a request (the root is an HTTP server span, by name
"POST /path" or http.* attributes, or a chain/agent; not an evaluator, and not named like an offline eval run or
an /evaluate endpoint, where judging is the job), an answer-producing llm call (not a judge) ended before the
judge started, and the judge ended before the root did: the response waited for it. Judges of one operation are
one finding; ``saving_ms`` is the time the request spent with a judge running (the union of their intervals)
and must reach ``MIN_SAVING_MS``. The cost is paid either way: ``saving_usd`` is 0.

When a non-judge llm call starts after the judge ended, the verdict may gate the answer (regenerate on a bad
score); the finding says so and drops to "info", since moving that judge changes behaviour.
"""

from __future__ import annotations

import re
from functools import lru_cache

from insights import fixes
from insights.detectors.types import JITTER_MS, Finding, SpanView, TraceIndex, format_seconds

ID = "judge_critical_path"
MIN_SAVING_MS = 250.0
PROMPT_SCAN_CHARS = 2000

_JUDGE_NAME_RE = re.compile(r"judge|grader|grading|evaluat|scorer|llm[-_ ]as[-_ ]a[-_ ]judge|faithfulness_check")
_JUDGE_PROMPT_RE = re.compile(
    r"you are (?:an? |the )?(?:\w+ ){0,3}(?:judge|grader|evaluator|critic of)"
    r"|\b(?:grade|evaluate|assess|judge|score) (?:the|this|whether|if|how well)\b[^.\n]{0,60}"
    r"\b(?:answer|response|output|completion|reply|summary)"
    r"|\brate (?:the|this|its)\b[^.\n]{0,60}\b(?:faithfulness|relevance|relevancy|correctness|accuracy|quality|"
    r"helpfulness|groundedness|coherence|toxicity)"
    r"|\b(?:is|was) the (?:answer|response) (?:faithful|grounded|correct|relevant|supported)"
)
# Cheap test before the regex: a prompt without one of these words cannot match it.
_JUDGE_WORDS = (
    "judge",
    "grader",
    "evaluat",
    "critic",
    "grade",
    "assess",
    "score",
    "rate ",
    "is the answer",
    "is the response",
    "was the answer",
    "was the response",
)
_HTTP_NAME_RE = re.compile(r"^(?:GET|POST|PUT|PATCH|DELETE) /")
_HTTP_ATTRIBUTES = ("http.request.method", "http.method", "http.route", "http.target", "url.path")
_OFFLINE_RE = re.compile(
    r"(?:^|[\s._/-])(?:evals?|evaluations?|evaluate|experiments?|benchmarks?|datasets?|pytest)(?:$|[\s._/-])"
)
_EVAL_OPERATIONS = frozenset({"evaluate", "evaluation", "evaluator"})


def is_judge(s: SpanView) -> bool:
    if s.kind == "evaluator":
        return True
    if s.kind != "llm":
        return False
    attrs = s.attributes
    if attrs:
        internal = attrs.get("peekr.internal")
        if internal is True or internal == "true":
            return True
        if str(attrs.get("gen_ai.operation.name", "")).lower() in _EVAL_OPERATIONS or "peekr.evaluator" in attrs:
            return True
        if any(key.startswith("gen_ai.evaluation.") for key in attrs):
            return True
    if _JUDGE_NAME_RE.search(s.name.lower()):
        return True
    for msg in s.input_messages:
        if isinstance(msg, dict) and msg.get("role") in ("system", "developer"):
            content = msg.get("content")
            if isinstance(content, str) and _is_judge_prompt(content):
                return True
    return False


@lru_cache(maxsize=4096)
def _is_judge_prompt(content: str) -> bool:
    """Cached: one app sends the same system prompt with every call, and the worker sees it trace after trace."""
    text = content[:PROMPT_SCAN_CHARS].lower()
    return any(word in text for word in _JUDGE_WORDS) and bool(_JUDGE_PROMPT_RE.search(text))


def _ended_by(index: TraceIndex, s: SpanView, ms: float) -> bool:
    end = index.end(s)
    return end is not None and end <= ms + JITTER_MS


def _answers_a_request(root: SpanView) -> bool:
    if root.kind == "evaluator" or is_judge(root) or _OFFLINE_RE.search(root.name.lower()):
        return False
    if _HTTP_NAME_RE.match(root.name) or any(key in root.attributes for key in _HTTP_ATTRIBUTES):
        return True
    return root.kind in ("chain", "agent")


def detect(index: TraceIndex) -> list[Finding]:
    judges = [s for s in index.spans if is_judge(s)]
    if not judges:
        return []
    judge_ids = {s.span_id for s in judges}
    judges = [s for s in judges if not any(a.span_id in judge_ids for a in index.ancestors(s))]
    inside_judges = {x.span_id for j in judges for x in index.subtree(j)}
    answers = [s for s in index.spans if s.kind == "llm" and s.span_id not in inside_judges]

    by_op: dict[tuple[str, str], list[SpanView]] = {}
    for judge in judges:
        root = index.root_of(judge)
        judge_end, root_end = index.end(judge), index.end(root)
        if root is judge or judge_end is None or root_end is None or not _answers_a_request(root):
            continue
        if judge_end > root_end + JITTER_MS:  # finished after the response: already off the critical path
            continue
        if not any(_ended_by(index, a, judge.start_ms) and index.root_of(a) is root for a in answers):
            continue
        by_op.setdefault((root.span_id, index.op(judge)), []).append(judge)

    findings = []
    for (root_id, operation), group in by_op.items():
        root = index.by_id[root_id]
        saving = _union_ms(index, group)
        if saving < MIN_SAVING_MS:
            continue
        last_end = max(index.end(j) or 0.0 for j in group)
        gates = any(a.start_ms >= last_end - JITTER_MS for a in answers if index.root_of(a) is root)
        endpoint = index.op(root)
        models = sorted({j.model for j in group if j.model})
        who = f'"{operation}"' + (f" ({', '.join(models)})" if models else "")
        calls = "call" if len(group) == 1 else f"{len(group)} calls"
        message = (
            f'Root cause: evaluation on the critical path of "{endpoint}"\n'
            f"The judge {calls} {who} ran for {format_seconds(saving)} after the answer was ready and before "
            f"the response returned. Evaluating in the background would save {format_seconds(saving)} per request."
        )
        if gates:
            message += " A later call may depend on the verdict: if it gates the answer, keep it and make it faster."
        findings.append(
            Finding(
                detector=ID,
                severity="info" if gates else "warning",
                title=f'Judge on the critical path of "{endpoint}"',
                message=message,
                span_ids=[j.span_id for j in group],
                operation=operation,
                parent_operation=endpoint,
                service=index.service_of(group),
                saving_ms=saving,
                saving_usd=0.0,
                fix=fixes.judge_fix(
                    endpoint=endpoint,
                    operation=operation,
                    model=models[0] if models else "",
                    provider=next((j.provider for j in group if j.provider), ""),
                    language=index.language,
                ),
                details={
                    "endpoint": endpoint,
                    "models": models,
                    "judge_ms": saving,
                    "root_ms": index.duration(root),
                    "may_gate_answer": gates,
                },
            )
        )
    return findings


def _union_ms(index: TraceIndex, spans: list[SpanView]) -> float:
    total, reach = 0.0, float("-inf")
    for start, end in sorted((s.start_ms, index.end(s) or s.start_ms) for s in spans):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total
