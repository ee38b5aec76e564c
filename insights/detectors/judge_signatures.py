"""How the judge detector knows a judge: the prompts evaluation libraries really send, and their span names.

The prompt phrases were taken from the requests these libraries sent to a local OpenAI-compatible server
(tests/fixtures/judges/, captured by tests/fixtures/judges/capture.py: ragas 0.4.3 in both its ``evaluate()`` and
``metrics.collections`` forms, DeepEval 2.9.3, openevals 0.2.2, langchain-classic 1.0.8). Each phrase sits within
the first ``LIBRARY_HEAD_CHARS`` of its message (a test checks it) and is verbatim, lowercased: a library judge is
recognised by an exact substring, never by a guess. Every metric step counts, the statement extraction before the
verdict included, so the finding's time is the whole evaluation.

Cost. This runs on every LLM span of every trace in the worker. Library phrases are looked for in a message's
first ``LIBRARY_HEAD_CHARS``, the generic wording in a system message's first ``PROMPT_SCAN_CHARS`` or a one-shot
user message's first ``USER_HEAD_CHARS``, and the answer per message head is cached (an app sends the same system
prompt with every call; a library the same template). On a cache miss the work is about twenty ``in`` tests over
500 characters (C substring search), and each generic pattern only when its words are present.
"""

from __future__ import annotations

import re
from functools import lru_cache

PROMPT_SCAN_CHARS = 2000
# The libraries state their task in the first 100 characters of their templates (the captured ones: at most 90);
# the margin allows a short preamble of the user's own.
LIBRARY_HEAD_CHARS = 500
# A user message is tested against the generic judge wording only in its head, where a judge template states its
# task; further down it holds the app's data (retrieved documents, the user's text), which may say anything.
USER_HEAD_CHARS = 400

RAGAS = "ragas"
DEEPEVAL = "DeepEval"
OPENEVALS = "openevals"
LANGCHAIN = "LangChain"
PEEKR = "Peekr"
GENERIC = "judge"  # a judge, by wording or a generic marker, of no library we know

LIBRARY_PROMPTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        RAGAS,
        (
            # faithfulness, answer correctness: statement extraction (both the legacy and collections prompts)
            "analyze the complexity of each sentence in the answer. break down each sentence",
            # faithfulness: the NLI verdicts
            "your task is to judge the faithfulness of a series of statements based on a given context",
            # answer relevancy (response relevancy): legacy "and Identify if answer", collections "and identify if the"
            "generate a question for the given answer and identify if",
            # answer correctness: TP/FP/FN classification
            "given a ground truth and an answer statements, analyze each statement and classify them",
        ),
    ),
    (
        DEEPEVAL,
        (
            # faithfulness: truths from the retrieval context and claims from the actual output
            "comprehensive list of factual, undisputed truths",
            "indicate whether each claim contradicts any facts in the retrieval context",
            "below is a list of contradictions. it is a list of strings explaining why the 'actual output'",
            # answer relevancy
            "given the text, breakdown and generate a list of statements presented",
            "determine whether each statement is relevant to address the input",
            "given the answer relevancy score, the list of reasons of irrelevant statements",
            # G-Eval
            "given an evaluation criteria which outlines how you should judge the",
            "given the evaluation steps, return a json with two keys: 1) a `score` key",
        ),
    ),
    (
        OPENEVALS,
        (
            # correctness, hallucination, RAG groundedness / retrieval relevance ("You are an expert data labeler ...")
            "you are an expert data labeler evaluating model outputs for",
            "you are an expert data labeler assessing",
            # RAG helpfulness, conciseness and the other "expert evaluator" rubrics
            "you are an expert evaluator assessing how",
        ),
    ),
    (
        LANGCHAIN,
        (
            # load_evaluator("criteria") and ("labeled_criteria")
            "you are assessing a submitted answer on a given task or input based on a set of criteria",
            # load_evaluator("qa"), ("cot_qa"), ("context_qa")
            "you are a teacher grading a quiz.",
            # load_evaluator("score_string") and ("pairwise_string")
            "please act as an impartial judge and evaluate the quality of the response",
        ),
    ),
)

# Generic judge wording, for hand-written judges: a "you are a judge" role, or a verb phrase that judges a model's
# answer (the thing judged named as one: "grade the answer", "rate the faithfulness of the response"). Each branch
# runs only when its words are in the text (plain substring tests first: most prompts have none of them).
_ANSWER = r"(?:answer|response|output|completion|reply|summary|submission)"
_JUDGE_PROMPT_RES: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    (("you are",), re.compile(r"you are (?:an? |the )?(?:\w+ ){0,3}(?:judge|grader|evaluator|critic of)")),
    (
        ("grade ", "evaluate ", "assess ", "judge ", "score ", "rate "),
        re.compile(
            r"\b(?:grade|evaluate|assess|judge|score|rate) (?:(?:whether|if|how well)\b[^.\n]{0,60}?)?"
            r"\b(?:the|this|its|an?|each|generated|model's|assistant's|ai's) (?:\w+ ){0,2}" + _ANSWER + r"s?\b"
            r"(?! (?:time|code|rate|format|header|body|size|status|field|latency|schema|file|path|token)s?\b)"
        ),
    ),
    (
        ("rate ",),
        re.compile(
            r"\brate (?:the|this|its)\b[^.\n]{0,60}\b(?:faithfulness|relevance|relevancy|correctness|accuracy|quality|"
            r"helpfulness|groundedness|coherence|toxicity)\b[^.\n]{0,40}\b" + _ANSWER
        ),
    ),
    (
        ("is the answer", "is the response", "was the answer", "was the response"),
        re.compile(r"\b(?:is|was) the (?:answer|response) (?:faithful|grounded|correct|relevant|supported)"),
    ),
)


def generic_judge_wording(text: str) -> bool:
    """Lowercased text reads as a hand-written judge prompt."""
    return any(any(w in text for w in words) and pattern.search(text) for words, pattern in _JUDGE_PROMPT_RES)


# Structured-output boilerplate a library puts in the system message (instructor's JSON mode, used by ragas): not
# the app's own system prompt, so the user message after it may still be tested as a judge template.
_BOILERPLATE_SYSTEM = ("as a genius expert, your task is to understand the content and provide",)

# Span names the libraries' own runs get (OpenInference/LangSmith LangChain instrumentation, DeepEval's tracing):
# case-sensitive, exact, so an app's "summarise" or "score_leads" step is not one of them.
RAGAS_NAMES = frozenset({
    "ragas evaluation", "faithfulness", "faithful_rate", "answer_relevancy", "response_relevancy",
    "answer_correctness", "answer_similarity", "context_precision", "context_recall", "context_entity_recall",
    "llm_context_precision_with_reference", "llm_context_precision_without_reference", "factual_correctness",
    "noise_sensitivity", "answer_accuracy", "response_groundedness", "context_relevance",
})  # fmt: skip
DEEPEVAL_NAMES = frozenset({
    "Faithfulness", "Answer Relevancy", "Contextual Precision", "Contextual Recall", "Contextual Relevancy",
    "Hallucination", "FaithfulnessMetric", "AnswerRelevancyMetric", "ContextualPrecisionMetric",
    "ContextualRecallMetric", "ContextualRelevancyMetric", "HallucinationMetric", "GEval",
})  # fmt: skip
_GEVAL_NAME_RE = re.compile(r". [(\[]GEval[)\]]$")  # GEval(name="Correctness") runs as "Correctness (GEval)"
_LANGCHAIN_NAME_RE = re.compile(r"^[A-Z]\w*EvalChain$")  # CriteriaEvalChain, QAEvalChain, ScoreStringEvalChain...
_OPENEVALS_NAME_RE = re.compile(r"^llm_as_(?:\w+_)?judge$")  # create_llm_as_judge's run: llm_as_correctness_judge


def name_library(name: str) -> str:
    """The library whose evaluation run a span name is, or ""."""
    if name in RAGAS_NAMES:
        return RAGAS
    if name in DEEPEVAL_NAMES or _GEVAL_NAME_RE.search(name):
        return DEEPEVAL
    if _LANGCHAIN_NAME_RE.match(name):
        return LANGCHAIN
    if _OPENEVALS_NAME_RE.match(name):
        return OPENEVALS
    return ""


def attribute_library(attrs: dict) -> str:
    """A library's marker among a span's attributes: LangSmith's evaluator metadata (openevals sets
    ``__ls_evaluator`` and ``__ls_framework`` on its run, exported as ``langsmith.metadata.*``)."""
    if any(key.endswith("__ls_evaluator") for key in attrs):
        framework = next((v for k, v in attrs.items() if k.endswith("__ls_framework")), "")
        return OPENEVALS if framework == "openevals" else GENERIC
    return ""


@lru_cache(maxsize=8192)
def prompt_library(head: str, generic_chars: int) -> str:
    """The judge a message's head reads as: a library's, GENERIC for judge wording, "" for none.

    ``head`` is the start of the message (its first PROMPT_SCAN_CHARS at most); library phrases are looked for in
    its first LIBRARY_HEAD_CHARS, the generic wording in its first ``generic_chars`` (0: not at all). Cached: the
    worker sees the same prompts trace after trace.
    """
    text = head[:LIBRARY_HEAD_CHARS].lower()
    for library, phrases in LIBRARY_PROMPTS:
        for phrase in phrases:
            if phrase in text:
                return library
    if generic_chars and generic_judge_wording(head[:generic_chars].lower()):
        return GENERIC
    return ""


def is_boilerplate_system(head: str) -> bool:
    text = head[:200].lower()
    return any(phrase in text for phrase in _BOILERPLATE_SYSTEM)
