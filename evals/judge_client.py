"""Calls to an LLM judge through any OpenAI-compatible endpoint, with every call accounted for.

A ``JudgeClient`` wraps one ``openai.AsyncOpenAI`` made with ``max_retries=0``: retries belong to the
Celery task, so they are bounded, spaced by the server's Retry-After and visible. Every HTTP exchange
(chat completions and embeddings, whether it went through ragas or not) is recorded by httpx event hooks
as a ``JudgeCall`` (model, tokens, cost from ``traces.pricing``, latency, status), for the cost ledger and
for Peekr's own spans.

Failures come out as one of four exceptions, so the caller decides without parsing messages:
``JudgeRetryable`` (timeouts, connection errors, 408, 429, 5xx; with the server's Retry-After),
``JudgeAuthError`` (401/403, or a 429 saying the account has no quota: retrying cannot help, pause the
rule), ``JudgeMalformed`` (the reply is not the JSON asked for; the raw reply is kept; never retried
here: instructor's re-ask loop is turned off) and ``JudgeError`` (anything else, e.g. a 400 or 404).

ragas (and openai) are imported lazily: web processes that only list the judges never pay for them; ragas
is imported only after its telemetry is switched off.
The bottom of the module holds what the judges share: what they read from a target and their cache key.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import math
import os
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import httpx

from evals.evaluators.types import EvalResult, EvalTarget
from traces.pricing import cost_for

DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"
logger = logging.getLogger(__name__)
_REASON_CHARS = 300
_RAW_CHARS = 20_000


class JudgeError(Exception):
    """A judge call failed for a reason that retrying will not fix (e.g. HTTP 400/404). Base of the others.

    ``calls`` and ``cost`` are filled by ``evals.judges.run_judge``: failed attempts cost money too.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
        self.calls: list[dict[str, Any]] = []
        self.cost: float = 0.0


class JudgeRetryable(JudgeError):
    """Timeout, connection error, 408, 429 or 5xx: try again after ``retry_after`` seconds (None: back off)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class JudgeAuthError(JudgeError):
    """The endpoint refused the key (401/403) or the account: the rule should pause and say why."""


class JudgeMalformed(JudgeError):
    """The judge answered, but not with the JSON it was asked for. ``raw`` is its reply, as received."""

    def __init__(self, reason: str, raw: str = ""):
        super().__init__(reason)
        self.raw = raw


@dataclass(frozen=True)
class JudgeConfig:
    base_url: str
    api_key: str = field(repr=False)
    model: str
    timeout_s: float = 30.0
    guarded: bool = False  # a project's own endpoint: connect to public addresses only (evals.judge_net)
    embedding_model: str = DEFAULT_EMBEDDING_MODEL  # answer relevancy embeds through the same endpoint
    price_overrides: dict[str, Any] | None = None  # a project's prices, as traces.pricing takes them


@dataclass
class JudgeCall:
    """One HTTP exchange with the judge endpoint."""

    kind: str  # chat | embeddings | other
    model: str
    input_tokens: int | None
    output_tokens: int | None
    cost: float | None  # USD; None when the model's price or the usage is unknown
    latency_ms: float
    started_at: float  # unix seconds, for a span of Peekr's own
    status_code: int | None = None  # None: no HTTP answer (timeout, connection error)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process, shared by every client: building one (loading the CA bundle) costs ~27 ms,
    which each judgement paid again when its client made its own. Built by httpx as its default is, so
    SSL_CERT_FILE / SSL_CERT_DIR (a company CA in front of a self-hosted judge) still apply."""
    return httpx.create_ssl_context()


class JudgeClient:
    def __init__(self, config: JudgeConfig):
        self.config = config
        self.calls: list[JudgeCall] = []
        self._pending: dict[int, tuple[float, float]] = {}  # id(request) -> (perf_counter, unix time)
        self._last_reply: str = ""
        import openai  # here, not at module level: ~0.7 s that web processes listing judges need not pay

        hooks = {"request": [self._on_request], "response": [self._on_response]}
        if config.guarded:
            from evals.judge_net import GuardedTransport

            # No proxies from the environment: they would resolve the name instead of the guard.
            http_client = openai.DefaultAsyncHttpxClient(
                transport=GuardedTransport(verify=tls_context()), event_hooks=hooks, follow_redirects=False
            )
        else:
            http_client = openai.DefaultAsyncHttpxClient(
                verify=tls_context(), event_hooks=hooks, follow_redirects=False
            )
        self.openai = openai.AsyncOpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "none",  # local servers take any key; the SDK refuses an empty one
            max_retries=0,
            timeout=config.timeout_s,
            http_client=http_client,
        )

    async def __aenter__(self) -> JudgeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.openai.close()

    # --- accounting -------------------------------------------------------------------------------------

    def checkpoint(self) -> int:
        """A mark in the call list: ``calls_since(mark)`` are the calls one judgement made."""
        return len(self.calls)

    def calls_since(self, mark: int = 0) -> list[JudgeCall]:
        return self.calls[mark:]

    def total_cost(self, mark: int = 0) -> float:
        return sum(call.cost or 0.0 for call in self.calls[mark:])

    def finish(self, result: EvalResult, mark: int, started: float) -> EvalResult:
        """Fill what every judge result carries: cost, wall-clock latency, judge model and the calls."""
        calls = self.calls_since(mark)
        result.cost = self.total_cost(mark)
        result.latency_ms = (time.perf_counter() - started) * 1000
        result.judge_model = self.config.model
        result.details["calls"] = [call.to_dict() for call in calls]
        if any(call.cost is None for call in calls):
            result.details["cost_complete"] = False  # an unpriced model: the ledger shows a lower bound
        return result

    async def _on_request(self, request: httpx.Request) -> None:
        self._pending[id(request)] = (time.perf_counter(), time.time())

    async def _on_response(self, response: httpx.Response) -> None:
        await response.aread()  # the SDK reads it again from memory; needed here for the usage
        try:
            self.calls.append(self._call_of(response))
        except Exception:  # an error raised in a hook would reach the SDK as a connection error
            logger.exception("could not account for a judge call")

    def _call_of(self, response: httpx.Response) -> JudgeCall:
        request = response.request
        t0, started_at = self._pending.pop(id(request), (time.perf_counter(), time.time()))
        sent = _json_or_none(request.content)
        sent = sent if isinstance(sent, dict) else {}
        payload = _json_or_none(response.content) if response.is_success else None
        usage = payload.get("usage") if isinstance(payload, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        kind = _call_kind(request.url.path)
        model = str(sent.get("model") or "")
        input_tokens = _int_or_none(usage.get("prompt_tokens"))
        output_tokens = _int_or_none(usage.get("completion_tokens"))
        if kind == "embeddings" and input_tokens is not None and output_tokens is None:
            output_tokens = 0
        cost = cost_for(model, input_tokens, output_tokens, self.config.price_overrides)
        if cost is None and isinstance(payload, dict) and payload.get("model"):
            cost = cost_for(str(payload["model"]), input_tokens, output_tokens, self.config.price_overrides)
        if kind == "chat":
            self._last_reply = _reply_text(payload) if payload is not None else response.text
        return JudgeCall(
            kind=kind,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=cost,
            latency_ms=(time.perf_counter() - t0) * 1000,
            started_at=started_at,
            status_code=response.status_code,
            error="" if response.is_success else f"HTTP {response.status_code}",
        )

    def _record_unanswered(self, request: httpx.Request | None, reason: str) -> None:
        if request is None or id(request) not in self._pending:
            return
        t0, started_at = self._pending.pop(id(request))
        sent = _json_or_none(request.content)
        sent = sent if isinstance(sent, dict) else {}
        self.calls.append(
            JudgeCall(
                kind=_call_kind(request.url.path),
                model=str(sent.get("model") or ""),
                input_tokens=None,
                output_tokens=None,
                cost=None,
                latency_ms=(time.perf_counter() - t0) * 1000,
                started_at=started_at,
                error=reason,
            )
        )

    # --- errors -----------------------------------------------------------------------------------------

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn whatever a judge call raised (openai, httpx, instructor, pydantic) into a JudgeError."""
        try:
            yield
        except JudgeError:
            raise
        except Exception as exc:
            raise self.classify(exc) from exc

    def classify(self, exc: BaseException) -> JudgeError:
        import openai

        from evals.judge_net import JudgeAddressRefused

        chain = list(_exception_chain(exc))
        refused = next((e for e in chain if isinstance(e, JudgeAddressRefused)), None)
        if refused is not None:  # final: retrying cannot make the address public
            return JudgeError(_cut(f"judge endpoint refused: {refused}"))
        for e in chain:
            if isinstance(e, openai.APITimeoutError | httpx.TimeoutException):
                reason = f"the judge did not answer within {self.config.timeout_s:g} s"
                self._record_unanswered(_request_of(e), "timeout")
                return JudgeRetryable(reason, None)
            if isinstance(e, openai.APIConnectionError | httpx.TransportError):
                cause = e.__cause__ or e
                reason = _cut(f"cannot reach the judge at {self.config.base_url}: {type(cause).__name__}: {cause}")
                self._record_unanswered(_request_of(e), "connection error")
                return JudgeRetryable(reason, None)
            if isinstance(e, openai.APIStatusError):
                return _from_status(e.response, e.body)
        for e in chain:
            if _is_parse_error(e):
                raw = _raw_from_instructor(e) or self._last_reply
                detail = e.__cause__ if getattr(e, "failed_attempts", None) is not None and e.__cause__ else e
                return JudgeMalformed(
                    _cut(f"the judge's reply is not the JSON asked for: {detail}"), _cut(raw, _RAW_CHARS)
                )
        return JudgeError(_cut(f"{type(exc).__name__}: {exc}"))

    # --- calls ------------------------------------------------------------------------------------------

    async def chat(self, messages: list[dict[str, Any]], *, json_mode: bool = True, max_tokens: int = 1024) -> str:
        """One chat completion; its text. Raises JudgeMalformed for an empty, refused or cut-off reply."""
        kwargs: dict[str, Any] = {"model": self.config.model, "messages": messages}
        if _is_reasoning_model(self.config.model):
            kwargs["max_completion_tokens"] = max_tokens  # these models take no temperature
        else:
            kwargs["max_tokens"] = max_tokens
            kwargs["temperature"] = 0
        if json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        with self.errors():
            completion = await self.openai.chat.completions.create(**kwargs)
        choice = completion.choices[0] if completion.choices else None
        content = choice.message.content if choice is not None else None
        if content is None:
            refusal = getattr(choice.message, "refusal", None) if choice is not None else None
            raise JudgeMalformed("the judge replied without content", refusal or "")
        if choice.finish_reason == "length":
            raise JudgeMalformed("the judge's reply was cut off at max_tokens", _cut(content, _RAW_CHARS))
        return content

    def ragas_llm(self) -> Any:
        """ragas's LLM over this client. instructor's re-ask loop is off: malformed JSON is reported, not retried."""
        prepare_ragas()
        from ragas.llms import llm_factory

        return llm_factory(self.config.model, client=self.openai, max_retries=0)

    def ragas_embeddings(self) -> Any:
        prepare_ragas()
        from ragas.embeddings.base import embedding_factory

        return embedding_factory("openai", model=self.config.embedding_model, client=self.openai)


def prepare_ragas() -> None:
    """Switch off everything in ragas that would reach beyond the judge endpoint, then import it.

    Forced, not defaulted: without RAGAS_DO_NOT_TRACK ragas posts telemetry after every LLM call (a blocking
    request to the internet), which the guarantee "no network besides the judge" forbids.
    """
    os.environ["RAGAS_DO_NOT_TRACK"] = "true"
    os.environ["HF_HUB_OFFLINE"] = "1"
    from ragas import _analytics

    if not _analytics.do_not_track():  # cached False by an earlier import in this process
        _analytics.do_not_track.cache_clear()


def record_outputs(llm: Any) -> list[Any]:
    """Keep every structured output ragas's LLM returns (statements, verdicts, questions), in order.

    ragas's ``ascore`` returns only the number; this lets the score stay ragas's own (computed by ascore
    with ragas's prompts and models) while the intermediate steps are kept for the user.
    """
    outputs: list[Any] = []
    agenerate = llm.agenerate

    async def recording_agenerate(prompt: str, response_model: Any) -> Any:
        result = await agenerate(prompt, response_model)
        outputs.append(result)
        return result

    llm.agenerate = recording_agenerate
    return outputs


@cache
def ragas_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ragas")
    except PackageNotFoundError:
        return "missing"


# --- HTTP details -------------------------------------------------------------------------------------


def _from_status(response: httpx.Response, body: object) -> JudgeError:
    status = response.status_code
    message = _error_message(body) or response.reason_phrase or ""
    reason = _cut(f"HTTP {status} from the judge: {message}".rstrip(": "))
    code = _error_code(body)
    if status in (401, 403):
        return JudgeAuthError(reason)
    if status == 429 and code == "insufficient_quota":
        return JudgeAuthError(reason)  # a billing state, not a rate: retries would only burn the budget
    if status in (408, 429) or status >= 500:
        return JudgeRetryable(reason, retry_after_seconds(response.headers))
    return JudgeError(reason)


def retry_after_seconds(headers: httpx.Headers | dict[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP-date; None if absent."""
    headers = httpx.Headers(headers)
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        return value if math.isfinite(value) and value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _error_message(body: object) -> str:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or "")
        if isinstance(inner, str):
            return inner
    return str(body) if isinstance(body, str) else ""


def _error_code(body: object) -> str:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("code") or inner.get("type") or "")
    return ""


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_parse_error(e: BaseException) -> bool:
    import pydantic

    # instructor's InstructorRetryException and IncompleteOutputException (a reply cut at max_tokens), matched
    # by attribute: instructor is only imported with ragas
    return isinstance(e, pydantic.ValidationError | json.JSONDecodeError) or any(
        hasattr(e, attr) for attr in ("failed_attempts", "last_completion")
    )


def _raw_from_instructor(e: BaseException) -> str:
    completion = getattr(e, "last_completion", None)
    if completion is None:
        attempts = getattr(e, "failed_attempts", None) or []
        completion = getattr(attempts[-1], "completion", None) if attempts else None
    try:
        return completion.choices[0].message.content or ""
    except (AttributeError, IndexError, TypeError):
        return ""


def _request_of(e: BaseException) -> httpx.Request | None:
    try:
        return e.request  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError when an error has no request
        return None


def _reply_text(payload: Any) -> str:
    try:
        return payload["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        return json.dumps(payload)[:_RAW_CHARS]


def _call_kind(path: str) -> str:
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/embeddings"):
        return "embeddings"
    return "other"


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except (ValueError, UnicodeDecodeError):
        return None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _is_reasoning_model(model: str) -> bool:
    name = model.lower().rsplit("/", 1)[-1]
    if len(name) >= 2 and name[0] == "o" and name[1].isdigit():
        return True
    if name.startswith("gpt-"):
        head = name[4:].split("-")[0].split(".")[0]
        return head.isdigit() and int(head) >= 5
    return False


def _cut(text: str, limit: int = _REASON_CHARS) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- what the judges read from a target -----------------------------------------------------------------


def message_text(content: Any) -> str:
    """The text of a chat message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
        return "\n".join(p for p in parts if p)
    return "" if content is None else str(content)


def judge_budget() -> int:
    """PEEKR_JUDGE_MAX_INPUT_CHARS: the most text one judgement sends (~4 characters a token). A quarter for the
    question, a quarter for the answer, half for the context; what is cut says so, in the text the judge reads."""
    from django.conf import settings

    return max(int(getattr(settings, "PEEKR_JUDGE_MAX_INPUT_CHARS", 32_000)), 400)


def clip(text: str, limit: int, *, keep: str = "head") -> str:
    """``text`` in at most ``limit`` characters (the marker included): its head, or its tail for a prompt whose
    question comes last."""
    if len(text) <= limit:
        return text
    marker = f" […{len(text) - limit} characters cut…] "
    if limit <= len(marker):
        return text[:limit] if keep == "head" else text[len(text) - limit :]
    room = limit - len(marker)
    return text[:room] + marker if keep == "head" else marker + text[len(text) - room :]


def clip_all(texts: list[str], limit: int) -> list[str]:
    """Documents in order until ``limit`` characters; the one that crosses it is cut, the rest are dropped."""
    out: list[str] = []
    left = limit
    for i, text in enumerate(texts):
        if left <= 0:
            out[-1] += f" […{len(texts) - i} more documents cut…]"
            break
        out.append(clip(text, left))
        left -= len(out[-1])
    return out


def judge_question(target: EvalTarget) -> str:
    return clip(_question(target), judge_budget() // 4, keep="tail")


def judge_answer(target: EvalTarget) -> str:
    return clip(target.output_text, judge_budget() // 4)


def _question(target: EvalTarget) -> str:
    if target.input_text.strip():
        return target.input_text
    for message in reversed(target.input_messages):
        if message.get("role") == "user":
            text = message_text(message.get("content"))
            if text.strip():
                return text
    return ""


def is_llm_answer(target: EvalTarget) -> bool:
    return target.kind == "llm" and bool(target.output_text.strip())


def retrieved_context(target: EvalTarget) -> list[str]:
    """The documents of the retriever spans before this span in the trace (or the context already given),
    within half the judge's budget."""
    return clip_all(_retrieved(target), judge_budget() // 2)


def _retrieved(target: EvalTarget) -> list[str]:
    if target.context:
        return [c for c in target.context if isinstance(c, str) and c.strip()]
    docs: list[str] = []
    for span in target.spans:
        if span.span_id and span.span_id == target.span_id:
            break
        if span.kind != "retriever":
            continue
        contents = [str(d.get("content") or "") for d in span.documents if isinstance(d, dict)]
        docs.extend(c for c in contents if c.strip())
        if not span.documents and span.output_text.strip():
            docs.append(span.output_text)
    return docs


def judge_context(target: EvalTarget) -> list[str]:
    """Context for an LLM span: the retrieved documents before it, else its input (the prompt it was given)."""
    docs = retrieved_context(target)
    if docs:
        return docs
    texts = [message_text(m.get("content")) for m in target.input_messages if isinstance(m, dict)]
    texts = [t for t in texts if t.strip()]
    if texts:
        return clip_all(texts, judge_budget() // 2)
    return [clip(target.input_text, judge_budget() // 2)] if target.input_text.strip() else []


def judge_cache_key(evaluator: str, version: str, judge_model: str, inputs: dict[str, Any]) -> str:
    """sha256 of (evaluator, version, judge model, the exact inputs the judge reads)."""
    blob = json.dumps(
        {"evaluator": evaluator, "version": version, "judge_model": judge_model, "inputs": inputs},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()
