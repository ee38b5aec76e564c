"""A judge-aware responder for FakeOpenAI: answers ragas's prompts and the rubric prompt from a small script.

It does not match prompt wording. It finds the JSON schema the prompt asks for (ragas writes it into the
prompt; instructor into the system message) and the input object (the last JSON object of the user
message), recognises the task by the schema's keys and answers in that shape:

- ``{"statements": [str]}``: statement extraction. Answers ``script.statements``, else the keys of
  ``script.claims``, else the answer split into sentences.
- ``{"statements": [{"statement", "reason", "verdict"}]}``: NLI verdicts. ``script.claims[statement]``
  decides; a claim not in the script is supported when it appears word for word in the context.
- ``{"question", "noncommittal"}``: question generation. ``script.questions`` in turn.
- ``{"reason", "verdict"}``: context usefulness. ``script.useful`` (a substring of the document -> verdict),
  else useful when a sentence of the answer appears in the document.
- A system message asking for ``{"score": <int>, "reason": <str>}``: the rubric. ``script.rubric_score``.

``script.raw_reply`` replaces every chat reply (for malformed-JSON tests). ``hash_embedding`` gives
deterministic vectors (hashed bag of words), so identical texts have similarity 1.0.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from evals.evaluators.types import EvalTarget
from tests.fake_openai import FakeOpenAI

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class JudgeScript:
    claims: dict[str, bool] = field(default_factory=dict)  # claim -> supported by the context
    statements: list[str] | None = None  # the claims statement extraction returns, when not claims' keys
    questions: list[str] = field(default_factory=list)  # answer relevancy's generated questions, in turn
    noncommittal: bool = False
    useful: dict[str, bool] = field(default_factory=dict)  # substring of a document -> useful
    rubric_score: int = 4
    rubric_reason: str = "Meets the criteria."
    raw_reply: str | None = None  # answered verbatim to every chat request


class JudgeResponder:
    """The ``answer`` callable for FakeOpenAI. ``seen`` lists the task of every chat request, in order."""

    def __init__(self, script: JudgeScript | None = None):
        self.script = script or JudgeScript()
        self.seen: list[str] = []
        self.prompts: list[list[dict]] = []
        self._questions = 0
        self._lock = threading.Lock()

    def __call__(self, body: dict) -> str:
        messages = body.get("messages") or []
        with self._lock:
            self.prompts.append(messages)
            task, data = classify(messages)
            self.seen.append(task)
            if self.script.raw_reply is not None:
                return self.script.raw_reply
            return json.dumps(self._answer(task, data))

    def _answer(self, task: str, data: dict) -> dict:
        s = self.script
        if task == "statements":
            answer = str(data.get("answer") or data.get("response") or "")
            if s.statements is not None:
                return {"statements": s.statements}
            return {"statements": list(s.claims) or _sentences(answer)}
        if task == "nli":
            context = str(data.get("context") or "")
            out = []
            for statement in data.get("statements") or []:
                supported = s.claims.get(statement, _contains(context, statement))
                reason = "The context states this." if supported else "The context does not state this."
                out.append({"statement": statement, "reason": reason, "verdict": int(supported)})
            return {"statements": out}
        if task == "question":
            questions = s.questions or ["What does the answer say?"]
            question = questions[self._questions % len(questions)]
            self._questions += 1
            return {"question": question, "noncommittal": int(s.noncommittal)}
        if task == "usefulness":
            context = str(data.get("context") or "")
            answer = str(data.get("answer") or data.get("response") or "")
            verdict = next((v for k, v in s.useful.items() if k.lower() in context.lower()), None)
            if verdict is None:
                verdict = any(_contains(context, sentence) for sentence in _sentences(answer))
            reason = "Useful for the answer." if verdict else "Not about what the answer says."
            return {"reason": reason, "verdict": int(verdict)}
        if task == "rubric":
            return {"score": s.rubric_score, "reason": s.rubric_reason}
        return {}


def judge_server(script: JudgeScript | None = None, **kwargs: Any) -> FakeOpenAI:
    """A FakeOpenAI answering judge prompts; ``server.answer.seen`` lists the tasks it was asked."""
    return FakeOpenAI(answer=JudgeResponder(script), embedding=hash_embedding, **kwargs)


def hash_embedding(text: str, dims: int = 64) -> list[float]:
    """A deterministic bag-of-words vector: same text, same vector; shared words, closer vectors."""
    vector = [0.0] * dims
    for word in _WORD.findall(text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % dims] += 1.0
    if not any(vector):
        vector[0] = 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector]


# --- reading a prompt ---------------------------------------------------------------------------------


def classify(messages: list[dict]) -> tuple[str, dict]:
    """(task, input object) of a judge prompt, from the requested JSON schema and the last input object."""
    texts = [_text(m.get("content")) for m in messages]
    system = "\n".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
    user = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    objects = [o for t in texts for o in json_objects(t)]
    schemas = [o for o in objects if isinstance(o.get("properties"), dict)]
    user_objects = [o for o in json_objects(user) if not isinstance(o.get("properties"), dict)]
    data = user_objects[-1] if user_objects else {}
    for schema in schemas:
        task = _task_of(schema)
        if task:
            return task, data
    if re.search(r'"score"\s*:', system) and re.search(r'"reason"\s*:', system):
        return "rubric", {}
    return "unknown", data


def _task_of(schema: dict) -> str:
    props = set(schema.get("properties") or {})
    if props == {"statements"}:
        items = schema["properties"]["statements"].get("items") or {}
        item = _resolve(schema, items)
        return "nli" if "verdict" in (item.get("properties") or {}) else "statements"
    if {"question", "noncommittal"} <= props:
        return "question"
    if props == {"reason", "verdict"}:
        return "usefulness"
    return ""


def _resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    if not ref:
        return node
    name = ref.rsplit("/", 1)[-1]
    return (schema.get("$defs") or schema.get("definitions") or {}).get(name, {})


def json_objects(text: str) -> list[dict]:
    """Every top-level JSON object in a text, in order (objects nested in another are not repeated)."""
    decoder = json.JSONDecoder()
    found, i = [], text.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        if isinstance(obj, dict):
            found.append(obj)
        i = text.find("{", end)
    return found


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()]


def _contains(haystack: str, needle: str) -> bool:
    needle = needle.strip().rstrip(".").lower()
    return bool(needle) and needle in haystack.lower()


# --- where did the process connect? -------------------------------------------------------------------

_connections: list[tuple[str, Any]] | None = None
_hook_installed = False


def _audit(event: str, args: tuple) -> None:
    if _connections is not None and event in ("socket.connect", "socket.getaddrinfo"):
        address = args[1] if event == "socket.connect" else (args[0], args[1])
        _connections.append((event, address))


@contextmanager
def record_connections() -> Iterator[list[tuple[str, Any]]]:
    """Every socket connect and DNS lookup of this process while inside (an audit hook: nothing escapes it)."""
    global _connections, _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)  # audit hooks cannot be removed; this one is idle outside the block
        _hook_installed = True
    _connections = seen = []
    try:
        yield seen
    finally:
        _connections = None


# --- targets --------------------------------------------------------------------------------------------


def rag_span(
    answer: str, *, question: str = "Tell me about Paris.", documents: list[str] | None = None, model: str = "gpt-4o"
) -> EvalTarget:
    """An LLM span answering ``question``, after a retriever span that returned ``documents`` (ids d1, d2...)."""
    docs = [{"id": f"d{i + 1}", "content": c, "score": 1.0 - i / 10} for i, c in enumerate(documents or [])]
    retriever = EvalTarget(span_id="r1", name="retrieve", kind="retriever", input_text=question, documents=docs)
    llm = EvalTarget(
        span_id="l1",
        name="chat gpt-4o",
        kind="llm",
        model=model,
        input_text=question,
        output_text=answer,
        input_messages=[{"role": "user", "content": question}],
        output_messages=[{"role": "assistant", "content": answer}],
    )
    spans = [retriever, EvalTarget(span_id="l1", kind="llm")] if documents is not None else []
    llm.spans = spans
    return llm
