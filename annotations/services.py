"""Writes for human review: queues and routing, claiming and annotating, golden sets and their versions, runs.

Concurrency: a reviewer claims the next item with ``queue_item_claim``; on PostgreSQL the candidate row is
locked with ``SELECT ... FOR UPDATE SKIP LOCKED`` inside a transaction, so two reviewers asking at the same
moment get two different items and neither waits for the other. On SQLite (writes serialised by the
database) a conditional UPDATE on "still unclaimed" does the same job. Golden-set versions are immutable:
every change writes a whole new version under a lock on the set's row.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from annotations import grouping
from annotations.models import (
    CASE_FIELDS,
    DEFAULT_LABELS,
    Annotation,
    GoldenItem,
    GoldenSet,
    GoldenSetVersion,
    LabelTaxonomy,
    Queue,
    QueueItem,
    RegressionResult,
    RegressionRun,
    RoutingRule,
)
from peekr_web.errors import Invalid, NotFound
from traces.models import Project, Span, Trace

log = logging.getLogger(__name__)

# Seconds after a trace completes before routing reads its scores: rules land within a second of the
# evaluation task, judges usually within this delay. A judge that lands later is caught by a re-route
# (thumbs-down feedback re-evaluates; routing is idempotent).
SCORE_TYPES = ("boolean", "categorical", "numeric")


class ReviewInvalid(Invalid, ValueError):
    """A request that cannot be carried out; the message says why (shown to the user as is; the API answers 400)."""


class ReviewNotFound(ReviewInvalid):
    """What the request names is not there (the API answers 404)."""

    status, code = NotFound.status, NotFound.code


# ---------------------------------------------------------------- taxonomy


def taxonomy_get(*, project: Project) -> list[str]:
    """The project's failure labels; the defaults until someone edits them."""
    row = LabelTaxonomy.objects.filter(project=project).first()
    return list(row.labels) if row is not None and row.labels else list(DEFAULT_LABELS)


def taxonomy_set(*, project: Project, labels: list[str]) -> list[str]:
    """Replace the project's labels (trimmed, de-duplicated, order kept). Existing annotations keep theirs."""
    cleaned: list[str] = []
    for label in labels:
        label = str(label).strip()
        if label and label not in cleaned:
            cleaned.append(label[:100])
    if not cleaned:
        raise ReviewInvalid("the taxonomy needs at least one label")
    LabelTaxonomy.objects.update_or_create(project=project, defaults={"labels": cleaned})
    return cleaned


# ---------------------------------------------------------------- queues and routing


def _validate_score_configs(configs: Any) -> list[dict]:
    if not isinstance(configs, list):
        raise ReviewInvalid("score_configs must be a list")
    names = set()
    for c in configs:
        if not isinstance(c, dict) or not str(c.get("name") or "").strip():
            raise ReviewInvalid("each score config needs a name")
        if c["name"] in names:
            raise ReviewInvalid(f"score config {c['name']!r} is defined twice")
        names.add(c["name"])
        kind = c.get("type")
        if kind not in SCORE_TYPES:
            raise ReviewInvalid(f"score config {c['name']!r}: type must be one of {', '.join(SCORE_TYPES)}")
        if kind == "categorical" and not (isinstance(c.get("options"), list) and c["options"]):
            raise ReviewInvalid(f"score config {c['name']!r}: a categorical score needs options")
        if kind == "numeric":
            lo, hi = c.get("min", 0), c.get("max", 1)
            if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (lo, hi)) or lo >= hi:
                raise ReviewInvalid(f"score config {c['name']!r}: numeric min and max must be numbers, min < max")
    return configs


def queue_create(
    *,
    project: Project,
    name: str,
    description: str = "",
    score_configs: list[dict] | None = None,
    reviews_per_item: int = 1,
    claim_seconds: int = 300,
) -> Queue:
    """Create a review queue; refuses a taken name and malformed score configs."""
    name = name.strip()
    if not name:
        raise ReviewInvalid("a queue needs a name")
    if reviews_per_item < 1 or claim_seconds < 10:
        raise ReviewInvalid("reviews_per_item must be at least 1 and claim_seconds at least 10")
    configs = _validate_score_configs(score_configs or [])
    if Queue.objects.filter(project=project, name=name).exists():
        raise ReviewInvalid(f"a queue named {name!r} already exists")
    return Queue.objects.create(
        project=project,
        name=name,
        description=description,
        score_configs=configs,
        reviews_per_item=reviews_per_item,
        claim_seconds=claim_seconds,
    )


def queue_update(*, queue: Queue, **changes) -> Queue:
    if "score_configs" in changes:
        _validate_score_configs(changes["score_configs"])
    for field, value in changes.items():
        setattr(queue, field, value)
    queue.save()
    return queue


def routing_rule_create(*, queue: Queue, kind: str, params: dict | None = None, active: bool = True) -> RoutingRule:
    """Add an automatic routing rule to a queue. Params by kind:

    failing_rule: {"evaluator"?}; score_below: {"evaluator", "threshold"}; score_band: {"evaluator", "low",
    "high"}; finding: {"detector"?}; sample: {"rate"} (0..1); signal: {"kind"?}; thumbs_down, escalation: none.
    """
    params = dict(params or {})
    if kind not in RoutingRule.Kind.values:
        raise ReviewInvalid(f"unknown routing kind {kind!r}; known: {', '.join(RoutingRule.Kind.values)}")
    number = (int, float)
    if kind in (RoutingRule.Kind.SCORE_BELOW, RoutingRule.Kind.SCORE_BAND) and not params.get("evaluator"):
        raise ReviewInvalid(f"a {kind} rule needs an evaluator")
    if kind == RoutingRule.Kind.SCORE_BELOW and not isinstance(params.get("threshold"), number):
        raise ReviewInvalid("a score_below rule needs a numeric threshold")
    if kind == RoutingRule.Kind.SCORE_BAND:
        lo, hi = params.get("low"), params.get("high")
        if not (isinstance(lo, number) and isinstance(hi, number) and lo <= hi):
            raise ReviewInvalid("a score_band rule needs numeric low <= high")
    if kind == RoutingRule.Kind.SAMPLE:
        rate = params.get("rate")
        if not (isinstance(rate, number) and 0 <= rate <= 1):
            raise ReviewInvalid("a sample rule needs a rate between 0 and 1")
    return RoutingRule.objects.create(queue=queue, kind=kind, params=params, active=active)


def _routable_scores(scores) -> list[dict]:
    """Done rule and judge scores, shadow ones left out (a shadow rule never routes). Filtered here, not in SQL:
    with a status condition PostgreSQL may pick the (project, evaluator, status) index over the trace index when
    its statistics lag (autovacuum off, or a table growing faster than it analyses), and scan every score of
    the project."""
    from evals.models import Score

    rows = scores.values("trace_id", "evaluator", "value", "passed", "source", "span_id", "status", "mode")
    skip = (Score.Source.FEEDBACK, Score.Source.HUMAN)
    return [
        r for r in rows
        if r.pop("status") == Score.Status.DONE and r.pop("mode") != "shadow" and r["source"] not in skip
    ]  # fmt: skip


def _trace_findings(trace: Trace) -> list:
    """The insight detectors' findings on this trace, computed from its spans (pure detectors, no storage)."""
    from insights.detectors import detect_all, span_view_from_row

    fields = [f for f in ("span_id", "parent_span_id", "name", "kind", "model", "provider", "start_time",
                          "end_time", "duration_ms", "status", "error", "input_text", "output_text",
                          "input_messages", "tool_name", "tool_arguments", "tool_result", "input_tokens",
                          "output_tokens", "cost", "service_name", "attributes", "is_internal")]  # fmt: skip
    rows = Span.objects.filter(trace=trace).values(*fields)
    return detect_all(span_view_from_row(r) for r in rows)


# callables(trace_pks) -> {trace pk: signal kinds the project's routing policy sends to review} (signals app)
SIGNAL_REVIEW_HOOKS: list = []


def _review_signals(trace_pks: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for hook in SIGNAL_REVIEW_HOOKS:
        for pk, kinds in hook(trace_pks).items():
            out.setdefault(pk, set()).update(kinds)
    return out


def route_reasons(
    *,
    trace: Trace,
    rules: Sequence[RoutingRule],
    scores: list[dict] | None = None,
    feedback: set[str] | None = None,
    findings: list | None = None,
    signals: set[str] | None = None,
) -> dict[int, tuple[str, int | None]]:
    """queue pk -> (reason, span pk or None) for the first rule of each queue that fires on this trace.

    Reads what is stored now: rule and judge scores, user feedback; findings are computed on the spot. A batch
    (traces_route) passes what it read for all its traces at once, and the findings the detect stage stored.
    """
    from evals.models import Feedback, Score
    from evals.services import sampled

    if scores is None:
        scores = list(_routable_scores(Score.objects.filter(trace=trace)))
    if feedback is None:
        feedback = set(Feedback.objects.filter(trace=trace).values_list("kind", flat=True))
    fired: dict[int, tuple[str, int | None]] = {}
    for rule in rules:
        if rule.queue_id in fired or not rule.active:
            continue
        p = rule.params or {}
        reason, span = "", None
        if rule.kind == RoutingRule.Kind.FAILING_RULE:
            bad = [s for s in scores if s["source"] == Score.Source.RULE and s["passed"] is False]
            bad = [s for s in bad if not p.get("evaluator") or s["evaluator"] == p["evaluator"]]
            if bad:
                reason = "failing rule " + ", ".join(sorted({s["evaluator"] for s in bad}))
                span = bad[0]["span_id"]
        elif rule.kind in (RoutingRule.Kind.SCORE_BELOW, RoutingRule.Kind.SCORE_BAND):
            mine = [s for s in scores if s["evaluator"] == p.get("evaluator") and s["value"] is not None]
            for s in sorted(mine, key=lambda s: s["value"]):
                if rule.kind == RoutingRule.Kind.SCORE_BELOW and s["value"] < p["threshold"]:
                    reason = f"{s['evaluator']} {s['value']:.2f} < {p['threshold']:g}"
                elif rule.kind == RoutingRule.Kind.SCORE_BAND and p["low"] <= s["value"] <= p["high"]:
                    reason = f"{s['evaluator']} {s['value']:.2f} borderline [{p['low']:g}, {p['high']:g}]"
                if reason:
                    span = s["span_id"]
                    break
        elif rule.kind == RoutingRule.Kind.THUMBS_DOWN and "thumbs_down" in feedback:
            reason = "thumbs-down"
        elif rule.kind == RoutingRule.Kind.ESCALATION and "escalation" in feedback:
            reason = "escalation"
        elif rule.kind == RoutingRule.Kind.FINDING:
            findings = _trace_findings(trace) if findings is None else findings
            hits = [f for f in findings if not p.get("detector") or f.detector == p["detector"]]
            if hits:
                reason = f"finding {hits[0].detector}: {hits[0].title}"[:300]
        elif rule.kind == RoutingRule.Kind.SIGNAL:
            signals = _review_signals([trace.pk]).get(trace.pk, set()) if signals is None else signals
            hits = sorted(k for k in signals if not p.get("kind") or k == p["kind"])
            if hits:
                reason = "signal " + ", ".join(hits)
        elif rule.kind == RoutingRule.Kind.SAMPLE and sampled(f"{rule.queue_id}:{trace.trace_id}", p.get("rate", 0)):
            reason = f"random sample ({p.get('rate', 0):.0%})"
        if reason:
            fired[rule.queue_id] = (reason[:300], span)
    return fired


def trace_route(*, trace_pk: int) -> list[QueueItem]:
    """Put a completed trace into every queue whose routing rules fire. Idempotent: returns the items created."""
    trace = Trace.objects.filter(pk=trace_pk).first()
    if trace is None or trace.is_internal:
        return []
    rules = list(RoutingRule.objects.filter(queue__project_id=trace.project_id, active=True).order_by("queue_id", "pk"))
    if not rules:
        return []
    fired = route_reasons(trace=trace, rules=rules)
    if not fired:
        return []
    existing = set(QueueItem.objects.filter(trace=trace, queue_id__in=fired).values_list("queue_id", flat=True))
    created = []
    for queue_pk, (reason, span_pk) in fired.items():
        if queue_pk in existing:
            continue
        try:
            with transaction.atomic():
                created.append(QueueItem.objects.create(queue_id=queue_pk, trace=trace, span_id=span_pk, reason=reason))
        except IntegrityError:  # routed concurrently: the unique (queue, trace) constraint held
            continue
    return created


def queue_items_add(
    *, queue: Queue, trace_pks: Iterable[int], reason: str = "manual", span_pk: int | None = None
) -> list[QueueItem]:
    """Add traces (of the queue's project) by hand, one or in bulk. Traces already queued are left alone."""
    wanted = set(Trace.objects.filter(project_id=queue.project_id, pk__in=list(trace_pks)).values_list("pk", flat=True))
    wanted -= set(QueueItem.objects.filter(queue=queue, trace_id__in=wanted).values_list("trace_id", flat=True))
    if not wanted:
        return []
    now = timezone.now()
    rows = [
        QueueItem(queue=queue, trace_id=pk, span_id=span_pk, reason=reason[:300], created_at=now)
        for pk in sorted(wanted)
    ]
    QueueItem.objects.bulk_create(rows, ignore_conflicts=True)  # a concurrent add of the same trace: one row
    return list(QueueItem.objects.filter(queue=queue, trace_id__in=wanted, created_at=now).order_by("pk"))


def on_feedback(trace_pk: int, kind: str) -> None:
    """evals' feedback hook: a thumbs-down or an escalation routes the trace (idempotent per queue)."""
    if kind in ("thumbs_down", "escalation"):
        from annotations.tasks import route_trace

        route_trace.delay(trace_pk)


def traces_route(trace_pks: list[int]) -> int:
    """The pipeline's routing stage for a batch, after evaluation and detection of the same completion: the
    traces, their projects' routing rules, scores, feedback, stored findings and existing items are each read
    once for the whole batch; the new items go in with one insert. Returns the items created."""
    from evals.models import Feedback, Score
    from insights.models import Finding

    traces = list(Trace.objects.filter(pk__in=trace_pks, is_internal=False))
    rules_of: dict[int, list[RoutingRule]] = {}
    projects = {t.project_id for t in traces}
    for rule in RoutingRule.objects.filter(queue__project_id__in=projects, active=True).select_related("queue"):
        rules_of.setdefault(rule.queue.project_id, []).append(rule)
    for rules in rules_of.values():
        rules.sort(key=lambda r: (r.queue_id, r.pk))
    traces = [t for t in traces if rules_of.get(t.project_id)]
    if not traces:
        return 0
    pks = [t.pk for t in traces]
    scores_of: dict[int, list[dict]] = {pk: [] for pk in pks}
    for row in _routable_scores(Score.objects.filter(trace_id__in=pks)):
        scores_of[row["trace_id"]].append(row)
    feedback_of: dict[int, set[str]] = {pk: set() for pk in pks}
    for trace_pk, kind in Feedback.objects.filter(trace_id__in=pks).values_list("trace_id", "kind"):
        feedback_of[trace_pk].add(kind)
    findings_of: dict[int, list] = {pk: [] for pk in pks}
    for finding in Finding.objects.filter(trace_id__in=pks).only("trace_id", "detector", "title").order_by("pk"):
        findings_of[finding.trace_id].append(finding)
    routed = set(QueueItem.objects.filter(trace_id__in=pks).values_list("trace_id", "queue_id"))
    signals_of = _review_signals(pks)
    items = []
    for trace in traces:
        fired = route_reasons(
            trace=trace,
            rules=rules_of[trace.project_id],
            scores=scores_of[trace.pk],
            feedback=feedback_of[trace.pk],
            findings=findings_of[trace.pk],
            signals=signals_of.get(trace.pk, set()),
        )
        items += [
            QueueItem(queue_id=queue_pk, trace=trace, span_id=span_pk, reason=reason)
            for queue_pk, (reason, span_pk) in fired.items()
            if (trace.pk, queue_pk) not in routed
        ]
    QueueItem.objects.bulk_create(items, ignore_conflicts=True)  # routed concurrently: (queue, trace) is unique
    return len(items)


def on_judge_scored(trace_pk: int) -> None:
    """evals' hook: a judge score landed after routing ran; route again on what it says (idempotent)."""
    from annotations.tasks import route_trace

    try:
        route_trace.delay(trace_pk)
    except Exception:  # noqa: BLE001 - the score is stored; routing on it is best effort
        log.warning("could not enqueue route_trace for trace %s", trace_pk, exc_info=True)


# ---------------------------------------------------------------- claiming and reviewing


def _claimable(queue: Queue, user, now) -> Any:
    return (
        QueueItem.objects.filter(queue=queue, status=QueueItem.Status.PENDING)
        .filter(Q(claimed_by__isnull=True) | Q(claim_expires_at__lt=now))
        .exclude(annotations__reviewer=user)
        .order_by("created_at", "pk")
    )


def queue_item_claim(*, queue: Queue, user) -> QueueItem | None:
    """The reviewer's next item, claimed for ``queue.claim_seconds``; None when nothing is left for them.

    An item the reviewer already holds comes first (a reload does not lose it). Items they already
    annotated are never offered again (N reviews per item means N different reviewers).
    """
    now = timezone.now()
    held = (
        QueueItem.objects.filter(
            queue=queue, status=QueueItem.Status.PENDING, claimed_by=user, claim_expires_at__gte=now
        )
        .exclude(annotations__reviewer=user)
        .order_by("created_at", "pk")
        .first()
    )
    if held is not None:
        return held
    expires = now + timedelta(seconds=queue.claim_seconds)
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            item = _claimable(queue, user, now).select_for_update(skip_locked=True, of=("self",)).first()
            if item is None:
                return None
            QueueItem.objects.filter(pk=item.pk).update(claimed_by=user, claim_expires_at=expires)
        item.claimed_by, item.claim_expires_at = user, expires
        return item
    # SQLite: no row locks, but writes are serialised; the UPDATE re-checks "still claimable" atomically.
    for _ in range(20):
        candidates = list(_claimable(queue, user, now).values_list("pk", flat=True)[:10])
        if not candidates:
            return None
        for pk in candidates:
            won = (
                QueueItem.objects.filter(pk=pk, status=QueueItem.Status.PENDING)
                .filter(Q(claimed_by__isnull=True) | Q(claim_expires_at__lt=now))
                .update(claimed_by=user, claim_expires_at=expires)
            )
            if won:
                return QueueItem.objects.get(pk=pk)
        now = timezone.now()
    return None


def queue_item_release(*, item: QueueItem, user) -> None:
    """Give the item back to the queue (only the reviewer holding it can)."""
    QueueItem.objects.filter(pk=item.pk, claimed_by=user).update(claimed_by=None, claim_expires_at=None)


def queue_item_skip(*, item: QueueItem, user) -> None:
    """Take the item out of the queue without a review (e.g. nothing to judge). Counted as skipped."""
    QueueItem.objects.filter(pk=item.pk, status=QueueItem.Status.PENDING).filter(
        Q(claimed_by__isnull=True) | Q(claimed_by=user) | Q(claim_expires_at__lt=timezone.now())
    ).update(status=QueueItem.Status.SKIPPED, claimed_by=None, claim_expires_at=None, completed_at=timezone.now())


def validate_values(score_configs: list[dict], values: dict) -> dict:
    """Values checked against the queue's score configs; a missing value is allowed, an unknown one is not."""
    if not isinstance(values, dict):
        raise ReviewInvalid("values must be an object of score name -> value")
    by_name = {c["name"]: c for c in score_configs}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise ReviewInvalid(f"unknown score(s) {', '.join(unknown)}; this queue has: {', '.join(by_name) or 'none'}")
    for name, value in values.items():
        c = by_name[name]
        if c["type"] == "boolean" and not isinstance(value, bool):
            raise ReviewInvalid(f"{name}: expected true or false, got {value!r}")
        if c["type"] == "categorical" and value not in c["options"]:
            raise ReviewInvalid(f"{name}: {value!r} is not one of {', '.join(map(str, c['options']))}")
        if c["type"] == "numeric":
            lo, hi = c.get("min", 0), c.get("max", 1)
            if not isinstance(value, int | float) or isinstance(value, bool) or not lo <= value <= hi:
                raise ReviewInvalid(f"{name}: expected a number from {lo:g} to {hi:g}, got {value!r}")
    return values


def annotation_submit(
    *,
    item: QueueItem,
    reviewer,
    labels: list[str] | None = None,
    values: dict | None = None,
    comment: str = "",
    expected_output: str = "",
) -> Annotation:
    """Record one reviewer's review of an item and release their claim.

    Labels must come from the project's taxonomy and values must fit the queue's score configs. The item is
    completed once it has ``reviews_per_item`` reviews. Refused when another reviewer holds the item, when
    this reviewer already reviewed it, or when the item is no longer pending.
    """
    queue = item.queue
    labels = list(dict.fromkeys(labels or []))
    allowed = taxonomy_get(project=queue.project)
    bad = [label for label in labels if label not in allowed]
    if bad:
        raise ReviewInvalid(f"unknown label(s) {', '.join(bad)}; the taxonomy has: {', '.join(allowed)}")
    values = validate_values(queue.score_configs or [], values or {})
    now = timezone.now()
    with transaction.atomic():
        locked = QueueItem.objects.select_for_update().get(pk=item.pk)
        if locked.status != QueueItem.Status.PENDING:
            raise ReviewInvalid(f"this item is {locked.status}: it takes no more reviews")
        if (
            locked.claimed_by_id not in (None, reviewer.pk)
            and locked.claim_expires_at is not None
            and locked.claim_expires_at >= now
        ):
            raise ReviewInvalid("another reviewer is working on this item")
        if Annotation.objects.filter(item=locked, reviewer=reviewer).exists():
            raise ReviewInvalid("you already reviewed this item")
        annotation = Annotation.objects.create(
            item=locked,
            reviewer=reviewer,
            labels=labels,
            values=values,
            comment=comment,
            expected_output=expected_output,
        )
        done = Annotation.objects.filter(item=locked).count()
        changes: dict[str, Any] = {"reviews_done": done, "claimed_by": None, "claim_expires_at": None}
        if done >= queue.reviews_per_item:
            changes.update(status=QueueItem.Status.COMPLETED, completed_at=now)
        QueueItem.objects.filter(pk=locked.pk).update(**changes)
    for field, value in changes.items():
        setattr(item, field, value)
    return annotation


def can_review(*, project: Project, user) -> bool:
    """Whether a user may review this project's queues (owner, admin, engineer, reviewer; not viewer)."""
    from traces.access import Action, can

    return can(user, Action.REVIEW, project)


def can_manage_review(*, project: Project, user) -> bool:
    """Whether a user may change queues, routing rules, the taxonomy and golden sets (not reviewers)."""
    from traces.access import Action, can

    return can(user, Action.MANAGE_REVIEW, project)


# ---------------------------------------------------------------- golden sets

# Failure label -> graders aimed at the failure type (never string equality with the bad answer).
REFUSAL_RUBRIC = (
    "The answer addresses the user's request instead of refusing it, unless the request is genuinely "
    "unsafe. A refusal, a deflection or 'I can't help with that' for a legitimate request scores 1."
)
CONTEXT_LOSS_RUBRIC = (
    "The answer stays consistent with everything the user said earlier in the conversation and with the "
    "context given; it does not forget or contradict earlier facts, constraints or decisions."
)
REFERENCE_RUBRIC = (
    "The answer agrees in substance with this reference answer (wording may differ; extra correct detail is "
    "fine; a contradiction or a missing key fact is not):\n\n{reference}"
)


def default_graders(*, labels: Sequence[str], case: dict, allowed_tools: Sequence[str] = ()) -> list[dict]:
    """Graders for a case from its failure labels (labels compared case-insensitively)."""
    wanted = {str(label).strip().lower() for label in labels}
    has_context = bool(case.get("context"))
    graders: list[dict] = []
    if "hallucination" in wanted:
        graders.append({"type": "faithfulness", "threshold": 0.8})
    if "context loss" in wanted:
        if has_context:
            graders.append({"type": "faithfulness", "threshold": 0.7})
        else:
            graders.append({"type": "rubric", "criteria": CONTEXT_LOSS_RUBRIC, "pass_threshold": 4})
    if "wrong tool call" in wanted:
        allowed = list(allowed_tools) or sorted({c["name"] for c in case.get("tool_calls") or [] if c.get("name")})
        graders.append({"type": "tool_allowed", "allowed": allowed})
    if "bad format" in wanted:
        graders.append({"type": "json_valid"})
    if "pii leak" in wanted:
        graders.append({"type": "pii"})
    if "refusal" in wanted:
        graders.append({"type": "rubric", "criteria": REFUSAL_RUBRIC, "pass_threshold": 4})
    if case.get("expected_output") and ("other" in wanted or not graders):
        graders.append(
            {"type": "rubric", "criteria": REFERENCE_RUBRIC.format(reference=case["expected_output"]),
             "pass_threshold": 4}
        )  # fmt: skip
    # Two labels may ask for the same grader (hallucination and context loss): keep the first.
    unique: list[dict] = []
    for g in graders:
        if g["type"] == "faithfulness" and any(u["type"] == "faithfulness" for u in unique):
            continue
        unique.append(g)
    return unique or [{"type": "non_empty"}]


def project_allowed_tools(project: Project) -> list[str]:
    from evals.models import EvalRule

    tools: list[str] = []
    for config in EvalRule.objects.filter(project=project).values_list("config", flat=True):
        for tool in (config or {}).get("allowed_tools") or []:
            if tool not in tools:
                tools.append(tool)
    return tools


def _answer_span(spans: list[Span], preferred: Span | None) -> Span | None:
    if preferred is not None and preferred.is_internal:  # Peekr's own judge call never stands in for the app's
        preferred = None
    if preferred is not None and preferred.kind == "llm":
        return preferred
    llm = [s for s in spans if s.kind == "llm" and (s.output_text or s.output_messages)]
    if llm:
        return llm[-1]
    return preferred or next((s for s in spans if not s.parent_span_id), spans[0] if spans else None)


def _tool_calls(spans: list[Span], answer: Span | None) -> list[dict]:
    calls = [
        {"name": s.tool_name or s.name.removeprefix("execute_tool ").strip(), "arguments": s.tool_arguments,
         "result": s.tool_result, "status": s.status}
        for s in spans
        if s.kind == "tool"
    ]  # fmt: skip
    if calls or answer is None:
        return calls
    # No tool spans: read the calls and their results from the answer's message history.
    results = {
        m.get("tool_call_id"): m.get("content", "") for m in answer.input_messages or [] if m.get("role") == "tool"
    }
    for m in answer.input_messages or []:
        for c in m.get("tool_calls") or []:
            calls.append({"name": c.get("name", ""), "arguments": c.get("arguments", ""),
                          "result": results.get(c.get("id"), ""), "status": "ok"})  # fmt: skip
    return calls


def case_from_trace(*, trace: Trace, span: Span | None = None, annotations: Sequence[Annotation] = ()) -> dict:
    """Everything needed to replay a trace's case, copied out of its spans and reviews."""
    spans = sorted((s for s in Span.objects.filter(trace=trace) if not s.is_internal), key=lambda s: s.start_time)
    answer = _answer_span(spans, span)
    documents = []
    for s in spans:
        if s.kind == "retriever" and (answer is None or s.start_time <= answer.start_time):
            documents += [d for d in s.documents or [] if isinstance(d, dict)]
    input_messages = list(answer.input_messages or []) if answer else []
    input_text = answer.input_text if answer else ""
    if not input_text:
        user = [m for m in input_messages if m.get("role") == "user" and m.get("content")]
        input_text = user[-1]["content"] if user else trace.input_preview
    bad_output = (answer.output_text if answer else "") or trace.output_preview
    if not bad_output and answer is not None and answer.output_messages:
        import json

        bad_output = json.dumps(answer.output_messages, ensure_ascii=False)
    expected = next((a.expected_output for a in reversed(annotations) if a.expected_output), "")
    labels: list[str] = []
    for a in annotations:
        labels += [label for label in a.labels if label not in labels]
    return {
        "source_trace_id": trace.trace_id,
        "input_messages": input_messages,
        "input_text": input_text or "",
        "context": documents,
        "tool_calls": _tool_calls(spans, answer),
        "model": (answer.model if answer else "") or trace.models_used.split(" ")[0],
        "prompt_version": (answer.prompt_version if answer else "")
        or next((s.prompt_version for s in spans if s.prompt_version), ""),
        "bad_output": bad_output or "",
        "expected_output": expected,
        "labels": labels,
    }


def case_id_for(golden_set: GoldenSet, source_trace_id: str, salt: str = "") -> str:
    return "c" + hashlib.sha256(f"{golden_set.pk}:{source_trace_id}:{salt}".encode()).hexdigest()[:11]


def golden_set_create(*, project: Project, name: str, description: str = "") -> GoldenSet:
    """A new, empty golden set; its first promotion writes version 1."""
    name = name.strip()
    if not name:
        raise ReviewInvalid("a golden set needs a name")
    if GoldenSet.objects.filter(project=project, name=name).exists():
        raise ReviewInvalid(f"a golden set named {name!r} already exists")
    return GoldenSet.objects.create(project=project, name=name, description=description)


def golden_latest_version(golden_set: GoldenSet) -> GoldenSetVersion | None:
    return golden_set.versions.order_by("-number").first()


def _write_version(
    golden_set: GoldenSet, cases: list[dict], note: str, created_by=None, created_by_label: str = ""
) -> GoldenSetVersion:
    """Write a whole new version (call inside a transaction holding the set's row lock)."""
    number = (golden_set.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    if created_by is not None and not created_by_label:
        created_by_label = created_by.get_username()
    version = GoldenSetVersion.objects.create(
        golden_set=golden_set,
        number=number,
        note=note[:300],
        created_by=created_by,
        created_by_label=created_by_label[:200],
    )
    GoldenItem.objects.bulk_create([GoldenItem(version=version, **{f: c[f] for f in CASE_FIELDS}) for c in cases])
    return version


def _current_cases(golden_set: GoldenSet) -> list[dict]:
    latest = golden_latest_version(golden_set)
    return [i.as_case() for i in latest.items.order_by("pk")] if latest else []


def golden_items_promote(
    *,
    golden_set: GoldenSet,
    items_or_traces: Sequence[QueueItem | Trace],
    graders: list[dict] | None = None,
    group: bool = True,
    note: str = "",
    created_by=None,
    created_by_label: str = "",
) -> GoldenSetVersion | None:
    """Promote reviewed items (or traces) into a new version holding every earlier case plus the new ones.
    ``created_by`` (a user) and ``created_by_label`` say who promoted them.

    With ``group`` the candidates are grouped by failure pattern first (annotations.grouping), together
    with the cases already in the set: one representative per new pattern is promoted, near-duplicates of
    each other or of an existing case are not. A trace already in the set is not added twice. Returns the
    new version, or None when nothing was new (no version is written for no change).
    """
    from annotations.grouping import group_cases

    project = golden_set.project
    allowed_tools = project_allowed_tools(project)
    candidates: list[dict] = []
    for obj in items_or_traces:
        if isinstance(obj, QueueItem):
            if obj.queue.project_id != project.pk:
                raise ReviewInvalid("an item of another project cannot be promoted here")
            anns = list(obj.annotations.order_by("created_at", "pk"))
            case = case_from_trace(trace=obj.trace, span=obj.span, annotations=anns)
        else:
            if obj.project_id != project.pk:
                raise ReviewInvalid("a trace of another project cannot be promoted here")
            anns = list(
                Annotation.objects.filter(item__trace=obj, item__queue__project=project).order_by("created_at", "pk")
            )
            case = case_from_trace(trace=obj, annotations=anns)
        case["graders"] = graders or default_graders(labels=case["labels"], case=case, allowed_tools=allowed_tools)
        candidates.append(case)

    with transaction.atomic():
        GoldenSet.objects.select_for_update().filter(pk=golden_set.pk).first()  # serialises version numbers
        current = _current_cases(golden_set)
        present = {c["source_trace_id"] for c in current if c["source_trace_id"]}
        fresh, seen = [], set()
        for case in candidates:
            if case["source_trace_id"] in present or case["source_trace_id"] in seen:
                continue
            seen.add(case["source_trace_id"])
            fresh.append(case)
        if group and fresh:
            pool = [_group_view(c, pinned=True, key=("old", i)) for i, c in enumerate(current)]
            pool += [_group_view(c, pinned=False, key=("new", i)) for i, c in enumerate(fresh)]
            keep = {g.representative for g in group_cases(pool)}
            fresh = [c for i, c in enumerate(fresh) if ("new", i) in keep]
        if not fresh:
            return None
        now = timezone.now()
        taken = {c["case_id"] for c in current}
        for case in fresh:
            case_id = case_id_for(golden_set, case["source_trace_id"])
            while case_id in taken:  # a removed trace promoted again, say: a new id, never a reused one
                case_id = case_id_for(golden_set, case["source_trace_id"], salt=case_id)
            taken.add(case_id)
            case.update(case_id=case_id, added_at=now)
        return _write_version(
            golden_set, current + fresh, note or f"promoted {len(fresh)} case(s)", created_by, created_by_label
        )


def _group_view(case: dict, *, pinned: bool, key: Any) -> dict:
    return {
        "key": key,
        "labels": case["labels"],
        "input": case["input_text"],
        "output": case["bad_output"],
        "expected": case["expected_output"],
        "pinned": pinned,
    }


def promotion_groups(*, items: Sequence[QueueItem]) -> list[grouping.Group]:
    """Flagged items grouped by failure pattern (representatives are QueueItem pks), for the promote page."""
    views = []
    for item in items:
        anns = list(item.annotations.all())
        labels = sorted({label for a in anns for label in a.labels})
        expected = next((a.expected_output for a in anns if a.expected_output), "")
        views.append({"key": item.pk, "labels": labels, "input": item.trace.input_preview,
                      "output": item.trace.output_preview, "expected": expected})  # fmt: skip
    return grouping.group_cases(views)


def golden_item_remove(*, golden_set: GoldenSet, case_id: str, note: str = "") -> GoldenSetVersion:
    """A new version without the case; the versions that held it keep it."""
    with transaction.atomic():
        GoldenSet.objects.select_for_update().filter(pk=golden_set.pk).first()
        current = _current_cases(golden_set)
        kept = [c for c in current if c["case_id"] != case_id]
        if len(kept) == len(current):
            raise ReviewNotFound(f"no case {case_id!r} in the latest version")
        return _write_version(golden_set, kept, note or f"removed {case_id}")


def golden_items_import(*, golden_set: GoldenSet, cases: list[dict], note: str = "imported") -> GoldenSetVersion:
    """A new version with these cases (e.g. read from a JSONL export) added to the current ones."""
    with transaction.atomic():
        GoldenSet.objects.select_for_update().filter(pk=golden_set.pk).first()
        current = _current_cases(golden_set)
        taken = {c["case_id"] for c in current}
        now = timezone.now()
        fresh = []
        for case in cases:
            case = {f: case.get(f) for f in CASE_FIELDS}
            case["case_id"] = str(case["case_id"] or case_id_for(golden_set, str(case["source_trace_id"]), str(now)))
            if case["case_id"] in taken:
                continue
            taken.add(case["case_id"])
            for f in ("input_messages", "context", "tool_calls", "labels", "graders"):
                case[f] = case[f] or []
            for f in ("source_trace_id", "input_text", "model", "prompt_version", "bad_output", "expected_output"):
                case[f] = case[f] or ""
            case["added_at"] = case["added_at"] or now
            fresh.append(case)
        return _write_version(golden_set, current + fresh, note)


# ---------------------------------------------------------------- regression runs


# callables(run) called when a regression run fails (regressions opens a regression record); a failing hook is
# logged, never fails the run.
REGRESS_FAILED_HOOKS: list = []


def regression_run_execute(
    *,
    version: GoldenSetVersion,
    candidate,
    judge=None,
    thresholds: dict[str, float] | None = None,
    blocking_judges: set[str] | None = None,
    blocking_rules: set[str] | None = None,
    name: str = "",
) -> RegressionRun:
    """Replay every case of a version against a candidate, grade, and store the run with one result per case.

    ``candidate`` is an ``annotations.regress.Candidate``; ``judge`` a JudgeConfig or None (semantic
    graders are then reported as errors, not run). ``thresholds``: calibrated thresholds per judge;
    ``blocking_judges`` / ``blocking_rules``: the judges / deterministic graders whose failure fails the run
    (peekr_regress: the project's blocking evaluators, evals.selectors.blocking_evaluators); None: all of them.
    A failed run is handed to REGRESS_FAILED_HOOKS.
    """
    from annotations import regress

    run = RegressionRun.objects.create(version=version, name=name[:200], target=candidate.url[:500],
                                       model=candidate.model[:200])  # fmt: skip
    items = list(version.items.order_by("pk"))
    outcomes = []
    try:
        for item in items:
            outcome = regress.replay_case(
                item.as_case(), candidate, judge=judge, thresholds=thresholds or {}, blocking_judges=blocking_judges,
                blocking_rules=blocking_rules,
            )  # fmt: skip
            outcomes.append(outcome)
            RegressionResult.objects.create(
                run=run,
                item=item,
                output=outcome.output,
                passed=outcome.passed,
                grader_results=outcome.grader_results,
                latency_ms=outcome.latency_ms,
                error=outcome.error,
            )
    except Exception as exc:
        run.status = RegressionRun.Status.ERROR
        run.summary = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
        run.finished_at = timezone.now()
        run.save()
        raise
    failed = [o.case_id for o in outcomes if not o.passed]
    run.status = RegressionRun.Status.FAILED if failed else RegressionRun.Status.PASSED
    run.summary = {
        "total": len(outcomes),
        "passed": len(outcomes) - len(failed),
        "failed": len(failed),
        "failed_cases": failed,
        "errors": sum(1 for o in outcomes if o.error),
        "golden_set": version.golden_set.name,
        "version": version.number,
    }
    run.finished_at = timezone.now()
    run.save()
    if run.status == RegressionRun.Status.FAILED:
        for hook in REGRESS_FAILED_HOOKS:
            try:
                hook(run)
            except Exception:  # the run is stored and its exit code stands; a hook's failure is only logged
                log.exception("regress-failed hook %r failed for run %s", hook, run.pk)
    return run
