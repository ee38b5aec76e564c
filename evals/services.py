"""Writes for evaluation: rules, targets, the deterministic evaluation pipeline, scores, feedback, the inline guard.

A trace is evaluated once it is complete (traces.services.trace_settle calls our hook). Rules run inline in
the worker task (microseconds); each judge evaluation becomes a pending Score and its own Celery task, run by
evals.judging, so a slow or failing judge never holds up anything else. Every write is keyed by the Score's
unique constraint.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from evals import evaluators as registry
from evals.budget import over_cap_reason, spent_today
from evals.connections import JudgeConnectionInvalid, judge_connection_for, judge_missing, rule_judge
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget, LazyAttributes
from evals.models import TRIGGERS, EvalRule, Feedback, JudgeConnection, Mode, Score
from evals.score_rows import ScoreRow, row_fields, row_model, score_row
from peekr_web.errors import Invalid
from traces import lean
from traces.models import Project, Span, Trace
from traces.privacy import custom_patterns_of as privacy_custom_patterns

log = logging.getLogger(__name__)

BUILTIN_RULE_NAME = "Built-in rules"
JUDGE_EVALUATORS = ("faithfulness", "answer_relevancy", "context_precision", "rubric")


class RuleInvalid(Invalid, ValueError):
    """A rule the user asked for that cannot work; the message says why (the API answers 400 with it)."""


# ---------------------------------------------------------------- rules


def rule_uses_judge(rule: EvalRule) -> bool:
    return any(e in JUDGE_EVALUATORS for e in rule.evaluators)


def rule_judge_missing(rule: EvalRule) -> str:
    """Why this rule's judges cannot run, or "" when they can."""
    return judge_missing(rule) if rule_uses_judge(rule) else ""


def _validate_rule(
    *, project: Project, evaluators: list[str], sample_rate: float, triggers: list[str], judge_model: str
) -> None:
    if not evaluators:
        raise RuleInvalid("a rule needs at least one evaluator")
    unknown = [e for e in evaluators if e not in registry.REGISTRY and e not in JUDGE_EVALUATORS]
    if unknown:
        raise RuleInvalid(f"unknown evaluator(s): {', '.join(unknown)}; known: {', '.join(evaluator_names())}")
    if not 0.0 <= sample_rate <= 1.0:
        raise RuleInvalid("sample_rate must be between 0 and 1")
    bad = [t for t in triggers if t not in TRIGGERS]
    if bad:
        raise RuleInvalid(f"unknown trigger(s): {', '.join(bad)}; known: {', '.join(TRIGGERS)}")
    if any(e in JUDGE_EVALUATORS for e in evaluators):
        model = judge_model or settings.PEEKR_JUDGE_MODEL
        if model and Span.objects.filter(project=project, model__iexact=model, is_internal=False).exists():
            raise RuleInvalid(
                f"the judge model {model!r} produced spans in this project: a model may not judge its own "
                "output. Pick another judge model."
            )


def evaluator_names() -> list[str]:
    return sorted(set(registry.REGISTRY) | set(JUDGE_EVALUATORS))


def eval_rule_create(
    *,
    project: Project,
    name: str,
    evaluators: list[str],
    filter: dict | None = None,
    target: str = EvalRule.Target.SPAN,
    sample_rate: float = 1.0,
    triggers: list[str] | None = None,
    judge_connection_id: int | None = None,
    judge_base_url: str = "",
    judge_model: str = "",
    daily_cost_cap: float | None = None,
    config: dict | None = None,
    mode: str = Mode.SHADOW,
    evaluator_modes: dict | None = None,
    changed_by=None,
    actor: str = "",
) -> EvalRule:
    """Create a rule, in shadow unless told otherwise; refuses unknown evaluators, bad rates, self-judging and an
    uncalibrated blocking judge (evals.modes) with a message saying why. Its mode is recorded as a ModeChange."""
    from evals import modes

    triggers = triggers or []
    _validate_rule(
        project=project, evaluators=evaluators, sample_rate=sample_rate, triggers=triggers, judge_model=judge_model
    )
    if EvalRule.objects.filter(project=project, name=name).exists():
        raise RuleInvalid(f"a rule named {name!r} already exists")
    judge_connection = _judge_connection(project, judge_connection_id, judge_base_url)
    calibration = modes.modes_check(project=project, evaluators=evaluators, mode=mode, overrides=evaluator_modes)
    rule = EvalRule.objects.create(
        project=project,
        name=name,
        evaluators=evaluators,
        filter=filter or {},
        target=target,
        sample_rate=sample_rate,
        triggers=triggers,
        judge_connection=judge_connection,
        judge_model=judge_model,
        daily_cost_cap=daily_cost_cap,
        config=config or {},
        mode=mode,
        evaluator_modes=evaluator_modes or {},
    )
    modes.rule_created_record(rule=rule, calibration=calibration, changed_by=changed_by, actor=actor)
    return rule


def _judge_connection(project: Project, connection_id: int | None, base_url: str | None) -> JudgeConnection | None:
    """The rule's judge connection. A bare judge URL is refused: it would have been paired with the operator's
    key; a project's own endpoint is a judge connection with its own key."""
    if base_url:
        raise RuleInvalid(
            "judge_base_url is not accepted: a project's own judge endpoint is a judge connection with its own key "
            "(registered by a project admin under Evaluations → Judge connections); pass its judge_connection_id"
        )
    try:
        return judge_connection_for(project=project, connection_id=connection_id)
    except JudgeConnectionInvalid as exc:
        raise RuleInvalid(str(exc)) from None


def eval_rule_update(*, rule: EvalRule, **changes) -> EvalRule:
    """Change a rule's settings; its modes change through evals.modes.rule_mode_set (checked and recorded)."""
    from evals import modes

    if {"mode", "evaluator_modes"} & set(changes):
        raise RuleInvalid("a rule's mode changes through POST /eval-rules/{id}/mode (checked and recorded)")
    base_url = changes.pop("judge_base_url", None)
    if "judge_connection_id" in changes or base_url:
        rule.judge_connection = _judge_connection(rule.project, changes.pop("judge_connection_id", None), base_url)
    for field, value in changes.items():
        setattr(rule, field, value)
    _validate_rule(
        project=rule.project,
        evaluators=rule.evaluators,
        sample_rate=rule.sample_rate,
        triggers=rule.triggers,
        judge_model=rule.judge_model,
    )
    # A judge added to a blocking rule would block uncalibrated: refused as a promotion would be (409).
    modes.modes_check(project=rule.project, evaluators=rule.evaluators, mode=rule.mode, overrides=rule.evaluator_modes)
    if "status" in changes and changes["status"] == EvalRule.Status.ACTIVE:
        rule.paused_reason = ""
    rule.save()
    return rule


def eval_rule_pause(*, rule: EvalRule, reason: str) -> None:
    EvalRule.objects.filter(pk=rule.pk).update(status=EvalRule.Status.PAUSED, paused_reason=reason)


def rules_for_project(*, project: Project) -> list[EvalRule]:
    """The project's rules; a new project gets the built-in rules on 100% of traffic."""
    rules = list(EvalRule.objects.filter(project=project).select_related("judge_connection").order_by("pk"))
    if not any(r.is_builtin for r in rules):
        builtin, _ = EvalRule.objects.get_or_create(
            project=project,
            name=BUILTIN_RULE_NAME,
            # Deterministic checks only: blocking from the start (a judge would need calibration first).
            defaults={
                "evaluators": list(registry.BUILTIN_RULES),
                "sample_rate": 1.0,
                "is_builtin": True,
                "mode": Mode.BLOCKING,
            },
        )
        rules.insert(0, builtin)
    return rules


# ---------------------------------------------------------------- targets and matching


def sampled(trace_id: str, rate: float) -> bool:
    """Deterministic by trace id: every trace kept at rate r is also kept at any rate above r."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    bucket = int(hashlib.sha256(trace_id.encode()).hexdigest()[:8], 16) / 0x1_0000_0000
    return bucket < rate


def _target_from_span(span: Span) -> EvalTarget:
    return EvalTarget(
        span_id=span.span_id,
        name=span.name,
        kind=span.kind,
        model=span.model,
        input_text=span.input_text,
        output_text=span.output_text,
        input_messages=span.input_messages or [],
        output_messages=span.output_messages or [],
        documents=span.documents or [],
        tool_name=span.tool_name,
        tool_arguments=span.tool_arguments,
        tool_result=span.tool_result,
        status=span.status,
        error=span.error,
        duration_ms=span.duration_ms,
        ttft_ms=span.ttft_ms,
        input_tokens=span.input_tokens,
        output_tokens=span.output_tokens,
        cost=span.cost,
        attributes=LazyAttributes(lambda: lean.raw_attributes(span)),  # as sent, on first read (traces.lean)
    )


def build_targets(spans: list[Span]) -> tuple[list[EvalTarget], EvalTarget]:
    """One target per span (with its context resolved) and one for the whole trace.

    Context for an LLM span: the documents of the retriever spans that ended before it started, else its input.
    """
    ordered = sorted(spans, key=lambda s: (s.start_time, s.pk or 0))
    span_targets = [_target_from_span(s) for s in ordered]
    for target, span in zip(span_targets, ordered, strict=True):
        docs = []
        for other in ordered:
            if other.kind == "retriever" and other.documents and other.end_time and other.end_time <= span.start_time:
                docs += other.documents
        if target.kind == "llm":
            if docs:
                target.documents = target.documents or docs
                target.context = [str(d.get("content", "")) for d in docs if d.get("content")]
            elif target.input_text:
                target.context = [target.input_text]
        elif target.documents:
            target.context = [str(d.get("content", "")) for d in target.documents if d.get("content")]
        target.spans = span_targets
    root = next((t for t in span_targets if not _parent(ordered, t)), span_targets[0] if span_targets else EvalTarget())
    trace_target = EvalTarget(
        span_id="",
        name=root.name,
        kind="trace",
        input_text=root.input_text,
        output_text=root.output_text,
        status="error" if any(t.status == "error" for t in span_targets) else "ok",
        spans=span_targets,
    )
    return span_targets, trace_target


def _parent(spans: list[Span], target: EvalTarget) -> str:
    for s in spans:
        if s.span_id == target.span_id:
            return s.parent_span_id
    return ""


def matches(rule_filter: dict, target: EvalTarget, *, service: str = "", tags: list[str] | None = None) -> bool:
    f = rule_filter or {}
    if f.get("kind") and target.kind != f["kind"]:
        return False
    if f.get("name") and not fnmatch.fnmatchcase(target.name, f["name"]):
        return False
    if f.get("model") and not fnmatch.fnmatchcase(target.model or "", f["model"]):
        return False
    if f.get("service") and service != f["service"]:
        return False
    wanted = f.get("tags") or []
    return not (wanted and not set(wanted) & set(tags or []))


def _span_tags(span: Span) -> list[str]:
    tags = (span.attributes or {}).get("tag.tags") or (span.attributes or {}).get("langfuse.trace.tags") or []
    return [str(t) for t in tags] if isinstance(tags, list) else []


def rule_config(rule: EvalRule) -> EvalConfig:
    known = EvalConfig.__dataclass_fields__
    config = EvalConfig(**{k: v for k, v in (rule.config or {}).items() if k in known})
    if "pii" in (rule.evaluators or ()):  # what the project's privacy settings name as personal data, too
        config.custom_patterns = privacy_custom_patterns(project_id=rule.project_id)
    return config


# ---------------------------------------------------------------- scores


def _target_key(trace: Trace, span: Span | None) -> str:
    return f"span:{span.pk}" if span is not None else f"trace:{trace.pk}"


SCORE_KEY = ("target_key", "evaluator", "rubric_version", "judge_model")
SCORE_UPDATED = (
    "rule",
    "source",
    "status",
    "value",
    "label",
    "passed",
    "explanation",
    "details",
    "error",
    "raw_reply",
    "cost",
    "latency_ms",
    "mode",
    "updated_at",
)


def score_build(
    *,
    trace: Trace,
    span: Span | None,
    evaluator: str,
    result: EvalResult,
    rule: EvalRule | None = None,
    source: str = Score.Source.RULE,
    rubric_version: str = "1",
    judge_model: str = "",
) -> Score:
    """The (unsaved) score of ``result`` for (target, evaluator, rubric version, judge model)."""
    return Score(
        target_key=_target_key(trace, span),
        evaluator=evaluator,
        rubric_version=rubric_version,
        judge_model=judge_model,
        project_id=trace.project_id,
        trace=trace,
        span=span,
        rule=rule,
        source=source,
        status=result.status,
        value=result.value,
        label=result.label[:200],
        passed=result.passed,
        explanation=result.explanation,
        details=result.details,
        error=result.error,
        raw_reply=result.raw,
        cost=result.cost,
        latency_ms=result.latency_ms,
        mode=rule.mode_of(evaluator) if rule is not None else Mode.ADVISORY,  # a dict look-up: no query
    )


def score_record(**kwargs: Any) -> Score:
    """Insert or update the one score for (target, evaluator, rubric version, judge model); score_build's keywords."""
    return scores_upsert([score_build(**kwargs)])[0]


def scores_upsert(scores: list[Score] | list[ScoreRow]) -> list[Score] | list[ScoreRow]:
    """Insert or update scores (Score instances, or the pipeline's ScoreRows) in ONE statement: INSERT ... ON
    CONFLICT (the score key) DO UPDATE.

    A concurrent run inserting the same key is absorbed by the constraint. A key seen twice (a trace-level
    evaluator under two span rules) keeps its last result, unless that one's mode counts less (shadow < advisory
    < blocking): a shadow rule never takes a score from an advisory one. Rows go in key order, so
    two evaluations of one trace at once lock them in the same order and cannot deadlock.
    """
    by_key: dict[tuple, Score | ScoreRow] = {}
    for s in scores:  # one evaluator under a shadow and an advisory rule: the score that counts is kept
        key = (s.target_key, s.evaluator, s.rubric_version, s.judge_model)  # SCORE_KEY
        if key not in by_key or MODE_RANK[s.mode] >= MODE_RANK[by_key[key].mode]:
            by_key[key] = s
    rows = [by_key[k] for k in sorted(by_key)]
    if connection.vendor == "postgresql" and len(rows) >= COPY_FROM_ROWS:
        _scores_copy_upsert(rows)  # a pipeline batch: thousands of rule scores
    elif rows:
        models = [row_model(r) if isinstance(r, ScoreRow) else r for r in rows]
        Score.objects.bulk_create(
            models, update_conflicts=True, unique_fields=list(SCORE_KEY), update_fields=list(SCORE_UPDATED)
        )
    return rows


MODE_RANK = {Mode.SHADOW: 0, Mode.ADVISORY: 1, Mode.BLOCKING: 2}
COPY_FROM_ROWS = 200  # scores written at once from which COPY beats the ORM's multi-row statement (PostgreSQL)
_SCORE_COPY_FIELDS = [f.attname for f in Score._meta.concrete_fields if not f.primary_key]


def _scores_copy_upsert(rows: list[Score] | list[ScoreRow]) -> None:
    """The same upsert through COPY into a temporary table and one merge (traces.services.pg_copy_upsert): for a
    batch of 85 traces (~1,600 scores) it took a third of the ORM's time, which was most of the stage's."""
    from traces.services import pg_copy_upsert

    now = timezone.now()
    dicts = []
    for score in rows:
        if isinstance(score, ScoreRow):
            dicts.append(row_fields(score, updated_at=now))  # attempts and created_at: the model's defaults
        else:
            score.updated_at = now
            dicts.append({f: getattr(score, f) for f in _SCORE_COPY_FIELDS})
    pg_copy_upsert(
        Score, dicts, temp_table="_score_in", conflict=SCORE_KEY, update=SCORE_UPDATED, order_by="target_key"
    )


SCORE_DICT_FIELDS = tuple(Score().as_dict())  # what Score.as_dict() gives, in its order


def span_write_back(*, span_pks: list[int]) -> None:
    """Copy each span's scores onto the span row (Span.eval_scores), so the trace carries its own story."""
    if not span_pks:
        return
    by_span: dict[int, list[dict]] = {pk: [] for pk in span_pks}
    rows = Score.objects.filter(span_id__in=span_pks).order_by("evaluator", "pk").values("span_id", *SCORE_DICT_FIELDS)
    for row in rows:  # rows, not models: a batch writes back thousands
        by_span[row.pop("span_id")].append(row)
    field = Span._meta.get_field("eval_scores")
    table, column = connection.ops.quote_name(Span._meta.db_table), connection.ops.quote_name(field.column)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ONE statement for the batch: an executemany of one UPDATE a span (thousands) cost the worker more
            # in sending statements than in building the lists.
            ids, docs = list(by_span), [json.dumps(scores) for scores in by_span.values()]
            cursor.execute(
                f"UPDATE {table} AS s SET {column} = v.doc::jsonb "
                "FROM unnest(%s::bigint[], %s::text[]) AS v(id, doc) "
                "WHERE s.id = v.id",
                [ids, docs],
            )
        else:  # one executemany UPDATE: bulk_update's CASE WHEN per row cost more than the rules themselves
            params = [(field.get_db_prep_save(scores, connection), pk) for pk, scores in by_span.items()]
            cursor.executemany(f"UPDATE {table} SET {column} = %s WHERE id = %s", params)


def trace_triggers(
    *, trace: Trace, spans: list[Span], rule_scores: list[Score] | list[ScoreRow], thumbs_down: bool | None = None
) -> set[str]:
    """Which always-evaluate triggers this trace fires."""
    fired = set()
    if any(s.status == "error" for s in spans):
        fired.add("error")
    failed = {s.evaluator for s in rule_scores if s.passed is False and s.mode != Mode.SHADOW}  # shadow fires none
    fired |= failed & {"timeout", "tool_failure", "max_turns"}
    if failed:
        fired.add("failing_rule")
    if any(isinstance(x.get("value"), (int, float)) and x["value"] < 0.5 for s in spans for x in s.sdk_scores or []):
        fired.add("low_confidence")
    if thumbs_down is None:
        thumbs_down = Feedback.objects.filter(trace=trace, kind=Feedback.Kind.THUMBS_DOWN).exists()
    if thumbs_down:
        fired.add("thumbs_down")
    return fired


def trace_evaluate(*, trace_pk: int) -> list[int]:
    """Run every active rule on a completed trace. Returns the pending judge score ids to run.

    Idempotent: rule scores are upserted on their unique key; a judge score that already exists (pending,
    done or errored) is not created again. Sync mode runs the judges inline next (evals.judging).
    """
    return traces_evaluate_batch(trace_pks=[trace_pk])


def traces_evaluate_batch(*, trace_pks: list[int], only_rule: EvalRule | None = None) -> list[int]:
    """trace_evaluate for a batch, in a fixed number of queries whatever its size: the traces, their spans, the
    thumbs-down among them, the rules of each project once, ONE upsert of every rule score, one read and one
    bulk update for the write-back onto the spans. Judge scores are created per sampled trace. Returns the
    pending judge score ids. ``only_rule``: that rule alone (a backfill, evals.backfill), the same keys."""
    traces = list(Trace.objects.select_related("project").filter(pk__in=trace_pks, is_internal=False).order_by("pk"))
    spans_of: dict[int, list[Span]] = {t.pk: [] for t in traces}
    for span in Span.objects.filter(trace_id__in=list(spans_of), is_internal=False):
        spans_of[span.trace_id].append(span)
    thumbs_down = set(
        Feedback.objects.filter(trace_id__in=list(spans_of), kind=Feedback.Kind.THUMBS_DOWN).values_list(
            "trace_id", flat=True
        )
    )
    signalled = set().union(*(hook(list(spans_of)) for hook in TRIGGER_HOOKS)) if spans_of else set()
    rules_of: dict[int, list[EvalRule]] = {}
    configs: dict[int, EvalConfig] = {}  # each rule's, once per batch
    work, rule_scores = [], []
    for trace in traces:
        spans = spans_of[trace.pk]
        if not spans:
            continue
        if only_rule is not None:
            rules_of[trace.project_id] = [only_rule] if only_rule.project_id == trace.project_id else []
        if trace.project_id not in rules_of:
            rules_of[trace.project_id] = [
                r for r in rules_for_project(project=trace.project) if r.status == EvalRule.Status.ACTIVE
            ]
        rules = rules_of[trace.project_id]
        span_targets, trace_target = build_targets(spans)
        span_by_id = {s.span_id: s for s in spans}
        scores = _rule_scores(trace, rules, span_targets, trace_target, span_by_id, configs)
        rule_scores += scores
        work.append((trace, spans, rules, span_targets, trace_target, span_by_id, scores))
    scores_upsert(rule_scores)

    pending: list[int] = []
    for trace, spans, rules, span_targets, trace_target, span_by_id, scores in work:
        fired = trace_triggers(trace=trace, spans=spans, rule_scores=scores, thumbs_down=trace.pk in thumbs_down)
        if trace.pk in signalled:
            fired.add("signal")
        for rule in rules:
            judges = [e for e in rule.evaluators if e in JUDGE_EVALUATORS]
            if not judges:
                continue
            if not (sampled(trace.trace_id, rule.sample_rate) or fired & set(rule.triggers)):
                continue
            pending += _judge_scores_create(rule, trace, span_targets, trace_target, span_by_id, judges)
    span_write_back(span_pks=[s.pk for item in work for s in item[1]])
    return pending


def _rule_scores(trace, rules, span_targets, trace_target, span_by_id, configs=None) -> list[ScoreRow]:
    """The rows of every active rule's evaluators on the trace (``configs``: each rule's EvalConfig by pk, built
    once per batch). A span target runs the span-level evaluators only, the trace target the trace-level ones."""
    out: list[ScoreRow] = []
    configs = {} if configs is None else configs
    for rule in rules:
        names = [e for e in rule.evaluators if e in registry.REGISTRY]
        if not names:
            continue
        if not (rule.is_builtin or sampled(trace.trace_id, rule.sample_rate)):
            continue
        config = configs.get(rule.pk) or configs.setdefault(rule.pk, rule_config(rule))
        for target, span in _rule_targets(rule, trace, span_targets, trace_target, span_by_id):
            level = "trace" if span is None else "span"
            span_pk = None if span is None else span.pk
            for name, result in registry.run_rules(target, config, names, level=level).items():
                evaluator = registry.get(name)
                if (evaluator.target == "trace") != (span is None):
                    continue
                out.append(
                    score_row(
                        trace_pk=trace.pk,
                        project_id=trace.project_id,
                        span_pk=span_pk,
                        evaluator=name,
                        result=result,
                        rule=rule,
                        version=str(evaluator.version),
                    )
                )
    return out


def _rule_targets(rule, trace, span_targets, trace_target, span_by_id):
    if rule.target == EvalRule.Target.TRACE:
        return [(trace_target, None)]
    out = []
    for target in span_targets:
        span = span_by_id[target.span_id]
        if matches(rule.filter, target, service=span.service_name, tags=_span_tags(span)):
            out.append((target, span))
    # Trace-level rule evaluators (max_turns, agent metrics) also run under span rules, once per trace.
    out.append((trace_target, None))
    return out


def _judge_scores_create(rule, trace, span_targets, trace_target, span_by_id, judges) -> list[int]:
    from evals.judges import JUDGES

    judge = rule_judge(rule)
    missing = rule_judge_missing(rule)
    config = rule_config(rule)
    created = []
    for target in span_targets:
        span = span_by_id[target.span_id]
        if not matches(rule.filter, target, service=span.service_name, tags=_span_tags(span)):
            continue
        for name in judges:
            evaluator = JUDGES[name]
            if not evaluator.applies(target):
                continue
            version = (
                str(evaluator.version_for(config)) if hasattr(evaluator, "version_for") else str(evaluator.version)
            )
            key = dict(target_key=_target_key(trace, span), evaluator=name, rubric_version=version)
            key["judge_model"] = judge.model or ""
            if Score.objects.filter(**key).exists():
                continue
            status, error = Score.Status.PENDING, ""
            if missing:
                status, error = Score.Status.SKIPPED, missing
            elif judge.model and target.model and judge.model.lower() == target.model.lower():
                status, error = Score.Status.SKIPPED, "self-judging refused: the judge model produced this span"
            elif rule.daily_cost_cap is not None and spent_today(rule) >= rule.daily_cost_cap:
                status, error = Score.Status.SKIPPED, over_cap_reason(rule)
            try:
                with transaction.atomic():
                    score = Score.objects.create(
                        project_id=trace.project_id,
                        trace=trace,
                        span=span,
                        rule=rule,
                        source=Score.Source.JUDGE,
                        status=status,
                        error=error,
                        mode=rule.mode_of(name),
                        **key,
                    )
            except IntegrityError:
                continue  # a concurrent evaluation created it
            if status == Score.Status.PENDING:
                created.append(score.pk)
    return created


# ---------------------------------------------------------------- feedback and guard


FEEDBACK_HOOKS: list = []  # callables(trace_pk, kind) registered by other apps (review routing), run after commit
# callables(trace_pks) -> the pks among them that fire the "signal" trigger (the signals app's routing policy)
TRIGGER_HOOKS: list = []


class FeedbackInvalid(Invalid, ValueError):
    pass


RATING_MIN, RATING_MAX = 1.0, 5.0  # stars; stored normalised to 0-1


def model_answer(trace: Trace) -> str:
    """The answer the user saw: the root span's output text, else the last LLM span's (Trace.output_preview is
    cut at 300 characters, too short to measure an edit against)."""
    spans = Span.objects.filter(trace=trace, is_internal=False).exclude(output_text="")
    root = spans.filter(span_id=trace.root_span_id).values_list("output_text", flat=True).first()
    if root:
        return root
    last = spans.filter(kind="llm").order_by("-end_time", "-pk").values_list("output_text", flat=True).first()
    return last or trace.output_preview


def edit_distance(answer: str, edited: str) -> float:
    """Normalised Levenshtein distance 0-1 (0: kept as is, 1: rewritten entirely), rapidfuzz's."""
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.normalized_distance(answer, edited)


def feedback_record(
    *,
    trace: Trace,
    kind: str,
    comment: str = "",
    edited_output: str = "",
    user_id: str = "",
    value: float | None = None,
) -> Feedback:
    """Record a user signal; thumbs-down re-evaluates the trace (an always-evaluate trigger).

    rating: `value` is 1 to 5 stars, stored as (stars - 1) / 4 in 0-1. edit: `edited_output` is the user's
    corrected answer; its normalised edit distance to the model's answer is stored as the value."""
    if kind == Feedback.Kind.RATING:
        if value is None or not RATING_MIN <= value <= RATING_MAX:
            raise FeedbackInvalid(f"a rating needs a value from {RATING_MIN:g} to {RATING_MAX:g} (stars); got {value}")
        value = (value - RATING_MIN) / (RATING_MAX - RATING_MIN)
    elif value is not None:
        raise FeedbackInvalid(f"value is only accepted with kind rating, not {kind}")
    if kind == Feedback.Kind.EDIT:
        if not edited_output:
            raise FeedbackInvalid("an edit needs edited_output: the user's corrected answer")
        value = edit_distance(model_answer(trace), edited_output)
    fb = Feedback.objects.create(
        project_id=trace.project_id,
        trace=trace,
        kind=kind,
        comment=comment,
        edited_output=edited_output,
        value=value,
        user_id=user_id,
    )
    score_record(
        trace=trace,
        span=None,
        evaluator=f"feedback:{kind}:{fb.pk}",
        result=EvalResult(
            value={"thumbs_up": 1.0, "thumbs_down": 0.0}.get(kind, value if kind == "rating" else None),
            passed={"thumbs_up": True, "thumbs_down": False}.get(kind),
            label=kind,
            explanation=comment,
        ),
        source=Score.Source.FEEDBACK,
    )
    if kind == Feedback.Kind.THUMBS_DOWN and trace.completed_at is not None:
        from evals.tasks import evaluate_trace

        transaction.on_commit(lambda: evaluate_trace.delay(trace.pk))
    for hook in FEEDBACK_HOOKS:
        transaction.on_commit(lambda hook=hook: hook(trace.pk, kind))
    return fb


def guard_check(*, project: Project, output: str, input: str = "", context: list[str] | None = None,
                tool_name: str = "", span_name: str = "", kind: str = "llm") -> dict:  # fmt: skip
    """Run the project's rule evaluators on a candidate output, synchronously: pass, or block with reasons."""
    builtin = next(r for r in rules_for_project(project=project) if r.is_builtin)
    config = rule_config(builtin)
    target = EvalTarget(
        name=span_name or "guard",
        kind=kind,
        input_text=input,
        output_text=output,
        output_messages=[{"role": "assistant", "content": output}],
        context=context or [],
        documents=[{"id": str(i), "content": c} for i, c in enumerate(context or [])],
        tool_name=tool_name,
        status="ok",
    )
    target.spans = [target]
    names = [e for e in builtin.evaluators if e in registry.REGISTRY and registry.get(e).target == "span"]
    results = registry.run_rules(target, config, names)
    failures = {n: r for n, r in results.items() if r.passed is False}
    return {
        "action": "block" if failures else "pass",
        "reasons": [f"{n}: {r.explanation or r.label}" for n, r in failures.items()],
        "results": {
            n: {"passed": r.passed, "value": r.value, "label": r.label, "explanation": r.explanation}
            for n, r in results.items()
        },
    }


def traces_evaluate(trace_pks: list[int]) -> int:
    """The pipeline's evaluation stage: rules on each completed trace of the batch, in this task; each judge
    evaluation it creates goes to the "judges" queue as its own task. Returns the judge tasks enqueued."""
    from evals.tasks import run_judge

    pending = traces_evaluate_batch(trace_pks=trace_pks)
    for score_pk in pending:
        run_judge.delay(score_pk)
    return len(pending)
