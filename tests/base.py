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


def make_project(
    name: str | None = None, owner=None, role: str = Role.OWNER, key_scope: str = "admin"
) -> tuple[Project, str]:
    """A project and a key that may do everything a key can (tests of a scope ask for it: key_scope)."""
    project, key = project_create(name=name or f"project-{next(_counter)}", key_scope=key_scope)
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


def wide_trace_raws(trace_id: str) -> list:
    """5,000 spans, depth-first order known: a root, 50 steps of 99 items each (the last has 98); no payloads, so
    ingest is quick. For the waterfall's big-trace tests."""
    t0 = time.time() - 600
    root = make_raw_span(trace_id=trace_id, name="batch job", start=t0, duration=300.0)
    raws = [root]
    for step in range(50):
        parent = make_raw_span(
            trace_id=trace_id, parent_span_id=root.span_id, name=f"step {step}", start=t0 + step * 5, duration=5.0
        )
        raws.append(parent)
        raws += [
            make_raw_span(
                trace_id=trace_id,
                parent_span_id=parent.span_id,
                name=f"item {step}.{i}",
                start=t0 + step * 5 + i * 0.05,
                duration=0.04,
            )
            for i in range(99)
        ]
    return raws[:5000]


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


# ---------------------------------------------------------------- signals


def make_turn(project, *, session: str, text: str, answer: str = "An answer.", start: float, user: str = "u1",
              name: str = "chat.turn", complete: bool = True, attributes: dict | None = None, children=()):  # fmt: skip
    """One turn of a session: a root span with the user's input and the answer, stored through ingest, completed
    unless told otherwise. `children`: extra RawSpan keyword dicts (parent and trace filled in)."""
    from django.utils import timezone

    from traces.models import Trace

    trace_id = hex_id(16)
    attrs = {"session.id": session, "user.id": user, "input.value": text, "output.value": answer, **(attributes or {})}
    root = make_raw_span(trace_id=trace_id, name=name, start=start, duration=2.0, attributes=attrs)
    spans = [root] + [
        make_raw_span(trace_id=trace_id, parent_span_id=root.span_id, start=start + 0.1, duration=0.5, **kw)
        for kw in children
    ]
    spans_ingest(project=project, raws=spans)
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    if complete:
        Trace.objects.filter(pk=trace.pk).update(completed_at=timezone.now())
        trace.refresh_from_db()
    return trace


# ---------------------------------------------------------------- metrics (rollups)


def make_production_trace(
    project: Project,
    *,
    start: float,
    release: str = "1.0.0",
    environment: str = "production",
    name: str = "answer",
    model: str = "gpt-4o-mini",
    duration: float = 2.0,
    ttft: float | None = 0.25,
    output_tokens: int = 50,
    tool_error: bool | None = None,
    error: bool = False,
    sdk_scores: dict | None = None,
    user_id: str = "",
    session_id: str = "",
    trace_id: str | None = None,
):
    """A trace as a production app sends it: resource service.version and deployment.environment, a chat call
    (with a time to first token), optionally a tool call, and scores the app computed itself (peekr.eval.*).
    Stored through the real ingest service; returns the Trace row."""
    from traces.models import Trace

    trace_id = trace_id or hex_id(16)
    resource = {"service.name": "shop-assistant", "service.version": release}
    if environment:
        resource["deployment.environment.name"] = environment
    root_attrs = {f"peekr.eval.{k}": v for k, v in (sdk_scores or {}).items()}
    if sdk_scores:
        root_attrs["peekr.name"] = name  # what peekr.otel's exporter sets: its scores are read from such spans
    if user_id:
        root_attrs["user.id"] = user_id
    if session_id:
        root_attrs["session.id"] = session_id
    root = make_raw_span(trace_id=trace_id, name=name, start=start, duration=duration, attributes=root_attrs,
                         status_code=2 if error else 0)  # fmt: skip
    chat_attrs = llm_attributes(model=model, out=output_tokens)
    if ttft is not None:
        chat_attrs["gen_ai.response.time_to_first_chunk"] = ttft
    spans = [
        root,
        make_raw_span(trace_id=trace_id, parent_span_id=root.span_id, name=f"chat {model}", kind=3,
                      start=start + 0.1, duration=duration - 0.5, attributes=chat_attrs),
    ]  # fmt: skip
    if tool_error is not None:
        spans.append(
            make_raw_span(trace_id=trace_id, parent_span_id=root.span_id, name="execute_tool search", start=start + 0.2,
                          duration=0.1, status_code=2 if tool_error else 0,
                          attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"})
        )  # fmt: skip
    for span in spans:
        span.resource = dict(resource)
    spans_ingest(project=project, raws=spans)
    return Trace.objects.get(project=project, trace_id=trace_id)


# --- alerts: hourly rollups written directly (monitors read them through metrics.selectors) ---


def rollup_data(metric: str, values: list[float]) -> dict:
    """A Rollup's `data` for these items of one metric, built with metrics.accumulators."""
    from metrics.accumulators import LATENCY_SKETCH, acc_add, acc_of, metric_def, sketch_of

    if metric_def(metric).quantile is not None:
        return {LATENCY_SKETCH: sketch_of(values)}
    acc = [0, 0, 0]
    for v in values:
        acc = acc_add(acc, acc_of(v))
    return {metric: acc}


def make_rollups(project: Project, metric: str, hours: dict, *, dim: str = "all", value: str = "") -> None:
    """Rollup rows of one metric: {hour (aware datetime on the hour): [item values]}, merged into the hour's row
    and into its UTC day's row (dim "d:<dim>"), as the rollup worker writes them."""
    from metrics.accumulators import data_add
    from metrics.contribution import DAY_PREFIX
    from metrics.models import Rollup

    for hour, values in hours.items():
        day = hour.replace(hour=0, minute=0, second=0, microsecond=0)
        for row_dim, at in ((dim, hour), (DAY_PREFIX + dim, day)):
            row, _ = Rollup.objects.get_or_create(project=project, dim=row_dim, value=value, hour=at)
            row.data = data_add(row.data, rollup_data(metric, values))
            row.traces += len(values)
            row.save()


def steady_hours(end, *, hours: int = 8 * 24, per_hour: int = 20, mean: float = 0.85, jitter: float = 0.05) -> dict:
    """{hour: values} for the `hours` hours before `end` (an hour boundary): per_hour items around mean, the
    same pattern every hour (mean - jitter, mean + jitter alternating), so the daily values barely move."""
    from datetime import timedelta

    return {
        end - timedelta(hours=h): [mean + (jitter if i % 2 else -jitter) for i in range(per_hour)]
        for h in range(1, hours + 1)
    }


def make_contribution(trace, *, hour, metric: str, value: float, dims: dict | None = None) -> None:
    """What one trace added to the rollups (metrics.models.TraceContribution), for worst_traces."""
    from metrics.models import TraceContribution

    TraceContribution.objects.update_or_create(
        trace=trace,
        defaults={
            "project_id": trace.project_id,
            "hour": hour,
            "dims": dims or {},
            "data": rollup_data(metric, [value]),
        },
    )


# ---------------------------------------------------------------- regressions


def make_regression(project, *, key: str = "evaluator:json_valid", release: str = "2.0.0", trace_ids=None, **kw):
    """A regression opened the way a hook opens one (regressions.services.regression_open)."""
    from regressions.services import regression_open

    fields = {"source": "verdict", "title": f"{key} regressed on {release}", "severity": "high",
              "evaluator": key.partition(":")[2], **kw}  # fmt: skip
    regression, _ = regression_open(project=project, key=key, release=release, trace_ids=trace_ids or [], **fields)
    return regression


# ---------------------------------------------------------------- releases (canary verdicts, shadow traffic)


def make_blocking(project, evaluator: str, *, rule_name: str = "") -> None:
    """Make an evaluator blocking: a deterministic one in the built-in rule through evals.modes.rule_mode_set; a
    judge in a rule of its own, set directly (these tests are about verdicts, not about the calibration gate)."""
    from evals.models import EvalRule
    from evals.modes import rule_mode_set
    from evals.services import JUDGE_EVALUATORS, rules_for_project

    if evaluator not in JUDGE_EVALUATORS:
        builtin = next(r for r in rules_for_project(project=project) if r.is_builtin)
        rule_mode_set(rule=builtin, mode="blocking", evaluator=evaluator, actor="tests")
        return
    EvalRule.objects.create(project=project, name=rule_name or f"{evaluator} gate", evaluators=[evaluator],
                            sample_rate=0.0, mode="blocking", evaluator_modes={evaluator: "blocking"})  # fmt: skip


# ---------------------------------------------------------------- retention


def make_flag(trace, how: str) -> None:
    """Flag a trace the way each app does (retention keeps its content to the flagged tier): a failing score, a
    finding, a user's complaint, a review queue item."""
    from django.utils import timezone

    if how == "score":
        from evals.models import Score

        Score.objects.create(project_id=trace.project_id, trace=trace, target_key=f"trace:{trace.pk}",
                             evaluator="pii", status="done", value=0.0, passed=False)  # fmt: skip
    elif how == "finding":
        from insights.models import Finding, Insight

        insight = Insight.objects.create(project_id=trace.project_id, signature="s" * 32, detector="loop",
                                         operation="op", title="A loop")  # fmt: skip
        Finding.objects.create(project_id=trace.project_id, trace=trace, insight=insight, signature="s" * 32,
                               detector="loop", title="A loop", message="m", operation="op",
                               seen_at=trace.start_time, digest="d")  # fmt: skip
    elif how == "signal":
        from signals.models import Signal

        Signal.objects.create(project_id=trace.project_id, trace=trace, kind="thumbs_down", source="api",
                              key=f"down-{trace.pk}", created_at=timezone.now())  # fmt: skip
    elif how == "queue":
        from annotations.models import Queue, QueueItem

        queue, _ = Queue.objects.get_or_create(project_id=trace.project_id, name="triage")
        QueueItem.objects.create(queue=queue, trace=trace, reason="manual")
    else:
        raise ValueError(how)


# --- access (issue 11: roles, scopes, personal tokens) ---


def make_token(user, name: str = "laptop") -> str:
    """A personal API token of ``user``; the raw token."""
    from traces.access_services import token_create

    return token_create(user=user, name=name)[1]


def make_key(project, scope: str = "ingest", name: str = "scoped") -> str:
    """A project key with this scope; the raw key."""
    from traces.services import api_key_create

    return api_key_create(project=project, name=name, scope=scope)[1]


# --- privacy (issue 11: redaction at ingest) ---


def user_token(project: Project, raw: str, what: str = "user") -> str:
    """What a raw user (or session) id is stored as in this project: its keyed hash when hashing is on."""
    from traces.privacy import stored_ids

    return stored_ids(project=project, what=what, value=raw)[-1]
