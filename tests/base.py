"""Plain factory functions shared by the tests: people, projects, keys and traces."""

from __future__ import annotations

import itertools
import secrets
import time

from django.contrib.auth import get_user_model

from traces.models import Membership, Project, Role
from traces.normalize.types import RawSpan
from traces.services import project_create, spans_ingest

_counter = itertools.count(1)


def make_user(username: str | None = None, password: str = "pw-for-tests-1"):
    username = username or f"user{next(_counter)}"
    return get_user_model().objects.create_user(username=username, password=password)


def make_project(name: str | None = None, owner=None, role: str = Role.OWNER) -> tuple[Project, str]:
    project, key = project_create(name=name or f"project-{next(_counter)}")
    if owner is not None:
        Membership.objects.create(project=project, user=owner, role=role)
    return project, key


def hex_id(n_bytes: int) -> str:
    return secrets.token_hex(n_bytes)


def make_raw_span(
    *,
    trace_id: str | None = None,
    span_id: str | None = None,
    parent_span_id: str | None = None,
    name: str = "span",
    start: float | None = None,
    duration: float = 0.1,
    attributes: dict | None = None,
    status_code: int = 0,
    status_message: str = "",
    service: str = "test-service",
    **kw,
) -> RawSpan:
    """A RawSpan as the OTLP decoder would build it; times in seconds since the epoch."""
    start = time.time() - 60 if start is None else start
    start_ns = int(start * 1e9)
    return RawSpan(
        trace_id=trace_id or hex_id(16),
        span_id=span_id or hex_id(8),
        parent_span_id=parent_span_id,
        name=name,
        start_ns=start_ns,
        end_ns=start_ns + int(duration * 1e9) if duration is not None else None,
        attributes=attributes or {},
        status_code=status_code,
        status_message=status_message,
        resource={"service.name": service},
        **kw,
    )


def llm_attributes(model="gpt-4o-mini", prompt="What is the capital of France?", answer="Paris.", inp=42, out=17):
    """OTel GenAI attributes of a chat call, as opentelemetry-instrumentation-openai-v2 writes them."""
    import json

    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "gen_ai.response.model": model,
        "gen_ai.usage.input_tokens": inp,
        "gen_ai.usage.output_tokens": out,
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": prompt}]}]),
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": answer}], "finish_reason": "stop"}]
        ),
    }


def make_trace(project: Project, *, n_llm: int = 2, name: str = "answer", start: float | None = None, **root_kw):
    """Store a small trace (a root with n_llm chat children) through the real ingest service."""
    trace_id = hex_id(16)
    start = time.time() - 60 if start is None else start
    root = make_raw_span(trace_id=trace_id, name=name, start=start, duration=1.0 + n_llm, **root_kw)
    spans = [root]
    for i in range(n_llm):
        spans.append(
            make_raw_span(
                trace_id=trace_id,
                parent_span_id=root.span_id,
                name="chat gpt-4o-mini",
                kind=3,
                start=start + 0.1 + i,
                duration=0.9,
                attributes=llm_attributes(),
            )
        )
    spans_ingest(project=project, raws=spans)
    return trace_id, spans


def make_judge_connection(project: Project, base_url: str, *, api_key: str = "sk-project-key", name: str = ""):
    """A project's own judge endpoint (through the service, so the URL is checked: tests run with
    PEEKR_JUDGE_ALLOW_PRIVATE=1, set by scripts/test_env.py, since their judges listen on 127.0.0.1)."""
    from evals.connections import judge_connection_create
    from evals.models import JudgeConnection

    existing = JudgeConnection.objects.filter(project=project, base_url=base_url.rstrip("/")).first()
    if existing is not None and not name:
        return existing
    return judge_connection_create(
        project=project, user=None, name=name or f"judge at {base_url}", base_url=base_url, api_key=api_key
    )


RUBRIC = {"rubric": {"criteria": "Is the answer polite?", "scale": {"min": 1, "max": 5}, "pass_threshold": 4}}


def make_rubric_rule(project, judge, *, name: str = "politeness", judge_model: str = "judge-model", **kw):
    """A rubric judge rule on LLM spans, calling ``judge`` (a FakeOpenAI) through a judge connection."""
    from evals.services import eval_rule_create

    return eval_rule_create(
        project=project,
        name=name,
        evaluators=["rubric"],
        filter={"kind": "llm"},
        judge_connection_id=make_judge_connection(project, judge.base_url).pk,
        judge_model=judge_model,
        config=RUBRIC,
        **kw,
    )


def stop_process_group(proc, timeout: float = 20) -> None:
    """SIGTERM to a child started with start_new_session=True and everything it forked; SIGKILL if it lingers."""
    import os
    import signal
    import subprocess

    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
