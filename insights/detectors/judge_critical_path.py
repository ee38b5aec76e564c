"""Judge on the critical path: the request waited for an evaluation of its own answer.

Rule. A judge is a span of kind "evaluator", or an llm span marked as one: attribute ``peekr.internal`` (the
Peekr SDK's own judge calls), ``gen_ai.operation.name`` "evaluate"/"evaluation", a ``gen_ai.evaluation.*`` or
``peekr.evaluator`` attribute, LangSmith's ``__ls_evaluator`` metadata (openevals), a name saying
judge/grader/evaluator/scorer, or a prompt that is one. Prompts (``judge_signatures``): the templates of ragas,
DeepEval, openevals and LangChain's evaluators, recognised by verbatim phrases in a system, developer or user
message; and generic judge wording ("You are an impartial judge", "grade the answer", "rate the faithfulness of
the response") in a system or developer message, or in the head of the one user message of a call with no system
prompt of the app's own. Only the first ``SCANNED_MESSAGES`` messages are read, each in its head (library phrases
in the first 500 characters, generic wording in a system message's first ``PROMPT_SCAN_CHARS`` or a user message's
first 400), and the answer per message head is cached. A chain/span/agent named like a library's evaluation run (a ragas
metric such as "faithfulness", DeepEval's "Answer Relevancy" or "Correctness (GEval)", LangChain's
"CriteriaEvalChain") is a judge when a model call runs inside it. Only the outermost judge counts (an evaluator
span and the llm call inside it are one judge); the finding names the library when one is known.

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

from insights import fixes
from insights.detectors import judge_signatures as signatures
from insights.detectors.types import JITTER_MS, Finding, SpanView, TraceIndex, content_text, format_seconds

ID = "judge_critical_path"
MIN_SAVING_MS = 250.0
PROMPT_SCAN_CHARS = signatures.PROMPT_SCAN_CHARS
# Judge templates carry their prompt in the first messages; instructor-style retries append more after them.
SCANNED_MESSAGES = 4
_USER_SCAN_CHARS = max(signatures.LIBRARY_HEAD_CHARS, signatures.USER_HEAD_CHARS)

_JUDGE_NAME_RE = re.compile(r"judge|grader|grading|evaluat|scorer|llm[-_ ]as[-_ ]a[-_ ]judge|faithfulness_check")
_HTTP_NAME_RE = re.compile(r"^(?:GET|POST|PUT|PATCH|DELETE) /")
_HTTP_ATTRIBUTES = ("http.request.method", "http.method", "http.route", "http.target", "url.path")
_OFFLINE_RE = re.compile(
    r"(?:^|[\s._/-])(?:evals?|evaluations?|evaluate|experiments?|benchmarks?|datasets?|pytest)(?:$|[\s._/-])"
)
_EVAL_OPERATIONS = frozenset({"evaluate", "evaluation", "evaluator"})
# Wrappers a library's evaluation run may be recorded as; they are judges by name when they call a model.
_NAMED_WRAPPER_KINDS = frozenset({"chain", "span", "agent"})


def is_judge(s: SpanView) -> bool:
    return bool(judge_library(s))


def judge_library(s: SpanView) -> str:
    """Whose judge the span is: a library (``signatures.RAGAS`` ...), ``signatures.PEEKR``, ``signatures.GENERIC``
    for a judge of no known library, or "" when it is no judge. A wrapper named like a library's evaluation run
    (a ragas metric, a DeepEval metric, a LangChain eval chain) counts here; ``detect`` keeps it only when a model
    call runs inside it."""
    if s.kind == "evaluator":
        return signatures.name_library(s.name) or signatures.GENERIC
    if s.kind in _NAMED_WRAPPER_KINDS:
        return signatures.name_library(s.name)
    if s.kind != "llm":
        return ""
    attrs = s.attributes
    if attrs:
        internal = attrs.get("peekr.internal")
        if internal is True or internal == "true":
            return signatures.PEEKR
        if str(attrs.get("gen_ai.operation.name", "")).lower() in _EVAL_OPERATIONS or "peekr.evaluator" in attrs:
            return signatures.GENERIC
        if any(key.startswith("gen_ai.evaluation.") for key in attrs):
            return signatures.GENERIC
        if library := signatures.attribute_library(attrs):
            return library
    if library := signatures.name_library(s.name):
        return library
    if _JUDGE_NAME_RE.search(s.name.lower()):
        return _prompt_library(s.input_messages) or signatures.GENERIC
    return _prompt_library(s.input_messages)


def _prompt_library(messages) -> str:
    """The judge the first messages read as. System and developer messages are judge templates by library
    phrase or generic wording; user messages by library phrase, and by generic wording in their head only when the
    call is a one-shot template (a single user message, no system prompt of the app's own)."""
    texts = []
    for msg in messages[:SCANNED_MESSAGES]:
        if isinstance(msg, dict) and msg.get("role") in ("system", "developer", "user"):
            content = msg.get("content")
            content = content if isinstance(content, str) else content_text(content)
            if content:
                keep = PROMPT_SCAN_CHARS if msg["role"] != "user" else _USER_SCAN_CHARS
                texts.append((msg["role"], content[:keep]))
    app_system = False
    for role, text in texts:
        if role != "user" and not signatures.is_boilerplate_system(text):
            app_system = True
            if library := signatures.prompt_library(text, PROMPT_SCAN_CHARS):
                return library
    one_shot = not app_system and sum(role == "user" for role, _ in texts) == 1
    for role, text in texts:
        if role == "user" and (library := signatures.prompt_library(text, signatures.USER_HEAD_CHARS * one_shot)):
            return library
    return ""


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
    labels = {s.span_id: label for s in index.spans if (label := judge_library(s))}
    if not labels:
        return []
    # A wrapper judged by its name only counts when it calls a model (a "faithfulness" step that calls none is
    # the app's own code, not an LLM judge).
    for s in index.spans:
        if (
            s.span_id in labels
            and s.kind in _NAMED_WRAPPER_KINDS
            and not any(x.kind == "llm" for x in index.subtree(s) if x is not s)
        ):
            del labels[s.span_id]
    judges = [s for s in index.spans if s.span_id in labels]
    judges = [s for s in judges if not any(a.span_id in labels for a in index.ancestors(s))]
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
        models = sorted({x.model for j in group for x in index.subtree(j) if x.model})
        library = _library_of(index, group, labels)
        who = f'"{operation}"' + (f" ({', '.join(models)})" if models else "")
        calls = "call" if len(group) == 1 else f"{len(group)} calls"
        whose = f"{library} judge" if library != signatures.GENERIC else "judge"
        message = (
            f'Root cause: evaluation on the critical path of "{endpoint}"\n'
            f"The {whose} {calls} {who} ran for {format_seconds(saving)} after the answer was ready and before "
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
                    "library": "" if library == signatures.GENERIC else library,
                },
            )
        )
    return findings


def _library_of(index: TraceIndex, group: list[SpanView], labels: dict[str, str]) -> str:
    """The library a group of judges belongs to: theirs, or else the first one named by a span inside them."""
    found = [labels.get(x.span_id, "") for j in group for x in index.subtree(j)]
    return next((label for label in found if label and label != signatures.GENERIC), signatures.GENERIC)


def _union_ms(index: TraceIndex, spans: list[SpanView]) -> float:
    total, reach = 0.0, float("-inf")
    for start, end in sorted((s.start_ms, index.end(s) or s.start_ms) for s in spans):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total
