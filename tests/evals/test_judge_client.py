"""The judge client: failures classified for the task's retries, every call's usage and cost recorded."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evals.evaluators.types import EvalConfig
from evals.judge_client import (
    JudgeAuthError,
    JudgeClient,
    JudgeConfig,
    JudgeError,
    JudgeMalformed,
    JudgeRetryable,
    prepare_ragas,
    retry_after_seconds,
)
from evals.judges import error_result, judge_sync
from tests.fake_openai import FakeOpenAI
from tests.judge_server import JudgeScript, judge_server, rag_span

MESSAGES = [{"role": "system", "content": 'Answer with JSON {"ok": true}'}, {"role": "user", "content": "hi"}]
RUBRIC = EvalConfig(rubric={"criteria": "Be polite.", "scale": {"min": 1, "max": 5}, "pass_threshold": 4})


def chat(server_or_url, *, timeout_s: float = 5, model: str = "gpt-4o-mini", **kw) -> tuple[str, JudgeClient]:
    base_url = server_or_url if isinstance(server_or_url, str) else server_or_url.base_url
    client = JudgeClient(JudgeConfig(base_url=base_url, api_key="sk-test", model=model, timeout_s=timeout_s, **kw))

    async def go() -> str:
        async with client:
            return await client.chat(MESSAGES)

    return asyncio.run(go()), client


def failing(status: int, headers: dict | None = None, body: dict | None = None):
    server = FakeOpenAI(answer='{"ok": true}')
    server.fail_next.append((status, headers or {}, body) if body else (status, headers or {}))
    return server


def test_a_429_with_retry_after_is_retryable_after_that_many_seconds():
    with failing(429, {"Retry-After": "7"}) as server, pytest.raises(JudgeRetryable) as caught:
        chat(server)
    assert caught.value.retry_after == 7
    assert "HTTP 429" in caught.value.reason
    assert len(server.requests) == 1  # no retry inside the client: the task owns retries


def test_retry_after_ms_wins_and_an_http_date_counts_from_now():
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds({"Retry-After": "Sun, 22 Nov 2026 12:00:30 GMT"}, now=now) == 30
    assert retry_after_seconds({"Retry-After": "Sun, 22 Nov 2026 11:00:00 GMT"}, now=now) == 0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_retryable(status):
    with failing(status) as server, pytest.raises(JudgeRetryable) as caught:
        chat(server)
    assert caught.value.retry_after is None
    assert f"HTTP {status}" in caught.value.reason


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_an_auth_error(status):
    body = {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
    with failing(status, body=body) as server, pytest.raises(JudgeAuthError) as caught:
        chat(server)
    assert not isinstance(caught.value, JudgeRetryable)
    assert caught.value.reason == f"HTTP {status} from the judge: Incorrect API key provided"


def test_an_exhausted_quota_pauses_like_a_bad_key_instead_of_retrying():
    body = {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}
    with failing(429, body=body) as server, pytest.raises(JudgeAuthError, match="quota"):
        chat(server)


def test_other_client_errors_are_final():
    body = {"error": {"message": "The model `gpt-9` does not exist", "code": "model_not_found"}}
    with failing(404, body=body) as server, pytest.raises(JudgeError) as caught:
        chat(server)
    assert type(caught.value) is JudgeError
    assert "does not exist" in caught.value.reason


def test_a_slow_judge_times_out_as_retryable():
    with FakeOpenAI(answer='{"ok": true}', delay=1.0) as server, pytest.raises(JudgeRetryable) as caught:
        chat(server, timeout_s=0.3)
    assert "did not answer within 0.3 s" in caught.value.reason


def test_a_judge_that_times_out_keeps_the_failed_call_in_the_ledger():
    with judge_server(delay=1.0) as server, pytest.raises(JudgeRetryable) as caught:
        cfg = JudgeConfig(base_url=server.base_url, api_key="k", model="gpt-4o-mini", timeout_s=0.3)
        judge_sync("rubric", rag_span("Hi."), RUBRIC, cfg)
    [call] = caught.value.calls
    assert call["error"] == "timeout" and call["status_code"] is None and call["cost"] is None
    assert 250 < call["latency_ms"] < 1000


def test_an_unreachable_endpoint_is_retryable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again at once: nothing listens there
    with pytest.raises(JudgeRetryable, match="cannot reach the judge"):
        chat(f"http://127.0.0.1:{port}/v1")


def test_a_reply_that_is_not_json_is_malformed_for_the_rubric_with_the_raw_text():
    with judge_server(JudgeScript(raw_reply="I would rate this a solid four.")) as server:
        cfg = JudgeConfig(base_url=server.base_url, api_key="k", model="gpt-4o-mini")
        with pytest.raises(JudgeMalformed) as caught:
            judge_sync("rubric", rag_span("Hi."), RUBRIC, cfg)
    assert caught.value.raw == "I would rate this a solid four."
    stored = error_result(caught.value, cfg)
    assert (stored.status, stored.value, stored.raw, stored.judge_model) == (
        "error",
        None,
        "I would rate this a solid four.",
        "gpt-4o-mini",
    )
    assert stored.cost == caught.value.cost > 0


def test_each_calls_usage_latency_and_cost_are_recorded():
    with FakeOpenAI(answer='{"ok": true}', usage=(1000, 500)) as server:
        reply, client = chat(server)
    assert reply == '{"ok": true}'
    [call] = client.calls
    assert (call.kind, call.model, call.input_tokens, call.output_tokens) == ("chat", "gpt-4o-mini", 1000, 500)
    assert call.cost == pytest.approx((1000 * 0.15 + 500 * 0.60) / 1e6)
    assert call.status_code == 200 and call.latency_ms > 0 and call.started_at > 0
    assert client.total_cost() == call.cost
    body = server.requests[0]["body"]
    assert body["response_format"] == {"type": "json_object"} and body["temperature"] == 0


def test_a_projects_price_overrides_apply_and_an_unknown_model_costs_nothing_known():
    with FakeOpenAI(answer='{"ok": true}', usage=(1000, 500)) as server:
        _, priced = chat(server, model="llama-local", price_overrides={"llama-local": {"input": 1.0, "output": 2.0}})
        _, unpriced = chat(server, model="my-own-model")
    assert priced.calls[0].cost == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    assert unpriced.calls[0].cost is None and unpriced.total_cost() == 0.0


def test_ragas_errors_are_unwrapped_from_instructor():
    script = JudgeScript(claims={"Paris is the capital of France.": True})
    target = rag_span("Paris is the capital of France.", documents=["Paris is the capital of France."])
    with judge_server(script) as server:
        cfg = JudgeConfig(base_url=server.base_url, api_key="k", model="gpt-4o-mini")
        server.fail_next.append((429, {"retry-after-ms": "250"}))
        with pytest.raises(JudgeRetryable) as retryable:
            judge_sync("faithfulness", target, EvalConfig(), cfg)
        server.fail_next.append((401, {}))
        with pytest.raises(JudgeAuthError):
            judge_sync("answer_relevancy", target, EvalConfig(), cfg)
    assert retryable.value.retry_after == 0.25
    assert retryable.value.calls[0]["status_code"] == 429


def test_ragas_telemetry_is_forced_off(monkeypatch):
    from ragas import _analytics

    monkeypatch.setenv("RAGAS_DO_NOT_TRACK", "false")
    _analytics.do_not_track.cache_clear()
    prepare_ragas()
    assert _analytics.do_not_track() is True


def test_importing_the_judges_does_not_import_ragas():
    code = "import sys, evals.judges; assert not {'ragas', 'instructor', 'openai'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_the_api_key_is_not_in_the_configs_repr():
    assert "sk-secret" not in repr(JudgeConfig(base_url="http://x/v1", api_key="sk-secret", model="m"))


class CutOffServer(FakeOpenAI):
    """Replies that stopped at max_tokens: the JSON is unfinished."""

    def _completion(self, body: dict) -> dict:
        completion = super()._completion(body)
        completion["choices"][0]["finish_reason"] = "length"
        return completion


def test_a_reply_cut_off_at_max_tokens_is_malformed_through_ragas_and_directly():
    target = rag_span("Paris is the capital.", documents=["Paris is the capital."])
    with CutOffServer(answer='{"statements": ["Paris is') as server:
        cfg = JudgeConfig(base_url=server.base_url, api_key="k", model="gpt-4o-mini")
        with pytest.raises(JudgeMalformed, match="max_tokens") as through_ragas:
            judge_sync("faithfulness", target, EvalConfig(), cfg)
        with pytest.raises(JudgeMalformed, match="cut off") as direct:
            chat(server)
    assert through_ragas.value.raw == direct.value.raw == '{"statements": ["Paris is'


def test_the_shared_tls_context_honours_ssl_cert_file(monkeypatch, tmp_path):
    """A judge behind a company CA: SSL_CERT_FILE is read, as httpx's own default does."""
    from evals.judge_client import tls_context

    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "company-ca.pem"))  # missing: loading it must fail
    tls_context.cache_clear()
    try:
        with pytest.raises(FileNotFoundError):
            tls_context()
    finally:
        monkeypatch.delenv("SSL_CERT_FILE")
        tls_context.cache_clear()
    assert tls_context() is tls_context()  # one per process
