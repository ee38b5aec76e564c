"""Reads for human review shared by the pages, the API and the peekr_regress command.

Human verdict per automated evaluator (for calibration), on each reviewed trace:

1. the queue has a boolean score config named like the evaluator (case-insensitive, e.g. "faithfulness"):
   the reviewers' majority value is the verdict (True = passed; a tie counts as failed);
2. else the evaluator's failure type (``EVALUATOR_LABELS``): the trace failed when at least half of its
   reviews carry one of those labels;
3. else (no mapping, e.g. latency rules) the evaluator is not calibrated.

The evaluator's own verdict on the trace: failed when any of its done scores on the trace failed (all
judge models and rubric versions together); its value is the lowest of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Avg, Case, Count, F, FloatField, Q, QuerySet, Value, When
from django.utils import timezone

from annotations import calibration
from annotations.models import (
    Annotation,
    GoldenItem,
    GoldenSet,
    GoldenSetVersion,
    Queue,
    QueueItem,
    RegressionResult,
    RegressionRun,
)
from traces.models import Project, Trace

ANY_LABEL = "*"
EVALUATOR_LABELS: dict[str, tuple[str, ...]] = {
    "faithfulness": ("hallucination", "context loss"),
    "citation_integrity": ("hallucination",),
    "context_precision": ("context loss",),
    "answer_relevancy": ("refusal", "context loss"),
    "pii": ("pii leak",),
    "json_valid": ("bad format",),
    "json_schema": ("bad format",),
    "non_empty": ("bad format",),
    "tool_allowed": ("wrong tool call",),
    "tool_selection_accuracy": ("wrong tool call",),
    "rubric": (ANY_LABEL,),  # a user-written rubric is an overall verdict: any failure label fails it
}
JUDGES = ("faithfulness", "answer_relevancy", "context_precision", "rubric")
QUARTER = timedelta(days=91)


# ---------------------------------------------------------------- queues


def queues_with_progress(*, project: Project, now: datetime | None = None) -> QuerySet[Queue]:
    """The project's queues, each annotated with total / pending / claimed / completed / skipped counts."""
    now = now or timezone.now()
    pending = Q(items__status=QueueItem.Status.PENDING)
    return (
        Queue.objects.filter(project=project)
        .annotate(
            total=Count("items"),
            pending=Count("items", filter=pending),
            claimed=Count("items", filter=pending & Q(items__claim_expires_at__gte=now)),
            completed=Count("items", filter=Q(items__status=QueueItem.Status.COMPLETED)),
            skipped=Count("items", filter=Q(items__status=QueueItem.Status.SKIPPED)),
        )
        .order_by("name")
    )


def queue_progress(*, queue: Queue, now: datetime | None = None) -> dict:
    """Counts for one queue and the reviews per reviewer (most active first)."""
    row = queues_with_progress(project=queue.project, now=now).get(pk=queue.pk)
    reviewers = list(
        Annotation.objects.filter(item__queue=queue)
        .values("reviewer_id", username=F("reviewer__username"))
        .annotate(reviews=Count("id"))
        .order_by("-reviews", "username")
    )
    done = row.completed + row.skipped
    return {
        "total": row.total,
        "pending": row.pending,
        "claimed": row.claimed,
        "completed": row.completed,
        "skipped": row.skipped,
        "done_share": done / row.total if row.total else 0.0,
        "reviewers": reviewers,
    }


def queue_items(*, queue: Queue, status: str | None = None) -> QuerySet[QueueItem]:
    qs = QueueItem.objects.filter(queue=queue).select_related("trace", "claimed_by").order_by("created_at", "pk")
    return qs.filter(status=status) if status else qs


def item_get(*, project: Project, item_pk: int) -> QueueItem | None:
    return QueueItem.objects.select_related("queue", "trace", "span").filter(pk=item_pk, queue__project=project).first()


def item_annotations(*, item: QueueItem) -> QuerySet[Annotation]:
    return item.annotations.select_related("reviewer").order_by("created_at", "pk")


# ---------------------------------------------------------------- golden sets


def golden_sets_with_latest(*, project: Project) -> list[dict]:
    """Each golden set with its latest version number and case count."""
    sets = list(GoldenSet.objects.filter(project=project).order_by("name"))
    latest = {}
    for v in (
        GoldenSetVersion.objects.filter(golden_set__in=sets)
        .annotate(n_items=Count("items"))
        .order_by("golden_set_id", "number")
    ):
        latest[v.golden_set_id] = v
    return [
        {"golden_set": s, "version": latest.get(s.pk), "items": latest[s.pk].n_items if s.pk in latest else 0}
        for s in sets
    ]


def golden_version_get(*, golden_set: GoldenSet, number: int | None = None) -> GoldenSetVersion | None:
    qs = golden_set.versions.all()
    return qs.filter(number=number).first() if number is not None else qs.order_by("-number").first()


def golden_items(*, version: GoldenSetVersion) -> QuerySet[GoldenItem]:
    return version.items.order_by("pk")


def golden_set_growth(*, golden_set: GoldenSet, now: datetime | None = None) -> dict:
    """How much of the latest version was added in the last quarter (91 days)."""
    now = now or timezone.now()
    version = golden_version_get(golden_set=golden_set)
    if version is None:
        return {"total": 0, "added_last_quarter": 0, "share": 0.0}
    counts = version.items.aggregate(total=Count("id"), recent=Count("id", filter=Q(added_at__gte=now - QUARTER)))
    total, recent = counts["total"], counts["recent"]
    return {"total": total, "added_last_quarter": recent, "share": recent / total if total else 0.0}


# ---------------------------------------------------------------- runs


def runs_for_project(*, project: Project, golden_set: GoldenSet | None = None) -> QuerySet[RegressionRun]:
    qs = RegressionRun.objects.filter(version__golden_set__project=project).select_related("version__golden_set")
    if golden_set is not None:
        qs = qs.filter(version__golden_set=golden_set)
    return qs.order_by("-started_at", "-pk")


def run_results(*, run: RegressionRun) -> QuerySet[RegressionResult]:
    return run.results.select_related("item").order_by("pk")


def run_compare(*, base: RegressionRun, head: RegressionRun) -> list[dict]:
    """Per case id: passed in the base run, passed in the head run (None: not in that run), and whether it changed."""
    before = dict(base.results.values_list("item__case_id", "passed"))
    after = dict(head.results.values_list("item__case_id", "passed"))
    rows = []
    for case_id in sorted(set(before) | set(after)):
        b, a = before.get(case_id), after.get(case_id)
        rows.append(
            {"case_id": case_id, "base": b, "head": a, "changed": b != a, "regressed": b is True and a is False}
        )
    return rows


# ---------------------------------------------------------------- weekly triage


def weekly_triage(*, project: Project, now: datetime | None = None, limit: int = 30) -> dict:
    """The week's worst-scoring traces: lowest mean of their done scores (a failed score counts as 0), among
    those with something wrong (a failed score, or a mean below 1.0).

    Returns {"traces": [{"trace", "mean_score", "scores", "failed", "queue_ids"}], "queues", "golden_sets"}:
    the queues and golden sets are the one-click targets for every row.
    """
    from evals.models import Score

    now = now or timezone.now()
    value = Case(
        When(passed=False, then=Value(0.0)),
        When(value__isnull=False, then=F("value")),
        When(passed=True, then=Value(1.0)),
        default=None,
        output_field=FloatField(),
    )
    rows = list(
        Score.objects.filter(
            project=project,
            status=Score.Status.DONE,
            trace__is_internal=False,
            trace__start_time__gte=now - timedelta(days=7),
            trace__start_time__lte=now,
        )
        .exclude(mode="shadow")  # shadow rules are shown apart, never ranked with the rest
        .values("trace_id")
        .annotate(mean=Avg(value), n=Count("id"), failed=Count("id", filter=Q(passed=False)))
        # Only traces with something wrong: a failed score or a mean below perfect. A week with few bad traces
        # lists few; it is never padded with traces that scored 1.00 on everything.
        .filter(Q(failed__gt=0) | Q(mean__lt=1.0), mean__isnull=False)
        .order_by("mean", "-failed", "trace_id")[:limit]
    )
    traces = Trace.objects.in_bulk([r["trace_id"] for r in rows])
    queued: dict[int, list[int]] = {}
    for trace_pk, queue_pk in QueueItem.objects.filter(trace_id__in=traces).values_list("trace_id", "queue_id"):
        queued.setdefault(trace_pk, []).append(queue_pk)
    return {
        "traces": [
            {
                "trace": traces[r["trace_id"]],
                "mean_score": r["mean"],
                "scores": r["n"],
                "failed": r["failed"],
                "queue_ids": sorted(queued.get(r["trace_id"], [])),
            }
            for r in rows
        ],  # fmt: skip
        "queues": list(Queue.objects.filter(project=project).order_by("name")),
        "golden_sets": list(GoldenSet.objects.filter(project=project).order_by("name")),
    }


# ---------------------------------------------------------------- calibration


def _human_verdict(evaluator: str, reviews: list[dict]) -> bool | None:
    """True = passed, False = failed, None = no verdict for this evaluator (see the module docstring)."""
    name = evaluator.lower()
    votes = []
    for r in reviews:
        configs = {c["name"].lower(): c for c in r["score_configs"] or [] if c.get("type") == "boolean"}
        if name in configs:
            value = {k.lower(): v for k, v in (r["values"] or {}).items()}.get(name)
            if isinstance(value, bool):
                votes.append(value)
    if votes:
        return sum(votes) * 2 > len(votes)
    mapped = EVALUATOR_LABELS.get(evaluator)
    if not mapped or not reviews:
        return None
    flagged = 0
    for r in reviews:
        labels = {str(label).lower() for label in r["labels"] or []}
        if (ANY_LABEL in mapped and labels) or labels & set(mapped):
            flagged += 1
    return flagged * 2 < len(reviews)


def calibration_pairs(*, project: Project) -> dict[str, dict]:
    """evaluator -> {"pairs": [(auto_passed, human_passed)], "values": [(value, human_passed)]} on reviewed traces."""
    from evals.models import Score

    reviews: dict[int, list[dict]] = {}
    for row in Annotation.objects.filter(item__queue__project=project).values(
        "labels", "values", trace=F("item__trace_id"), score_configs=F("item__queue__score_configs")
    ):
        reviews.setdefault(row["trace"], []).append(row)
    auto: dict[tuple[str, int], dict] = {}
    for s in (
        Score.objects.filter(trace_id__in=list(reviews), status=Score.Status.DONE, passed__isnull=False)
        .exclude(source__in=(Score.Source.FEEDBACK, Score.Source.HUMAN))
        .values("trace_id", "evaluator", "passed", "value")
    ):
        entry = auto.setdefault((s["evaluator"], s["trace_id"]), {"passed": True, "value": None})
        entry["passed"] = entry["passed"] and s["passed"]
        if s["value"] is not None:
            entry["value"] = s["value"] if entry["value"] is None else min(entry["value"], s["value"])
    out: dict[str, dict] = {}
    for (evaluator, trace_pk), verdict in sorted(auto.items()):
        human = _human_verdict(evaluator, reviews[trace_pk])
        if human is None:
            continue
        data = out.setdefault(evaluator, {"pairs": [], "values": []})
        data["pairs"].append((verdict["passed"], human))
        if verdict["value"] is not None:
            data["values"].append((verdict["value"], human))
    return out


def calibration_report(*, project: Project) -> list[dict]:
    """Per automated evaluator: n, agreement, kappa, confusion matrix, gate eligibility and where it stands."""
    data = calibration_pairs(project=project)
    names = sorted(set(data) | set(JUDGES))
    report = []
    for name in names:
        d = data.get(name, {"pairs": [], "values": []})
        result = calibration.calibrate(d["pairs"], d["values"] if name in JUDGES else ())
        mapping = EVALUATOR_LABELS.get(name, ())
        report.append(
            {"evaluator": name, "kind": "judge" if name in JUDGES else "rule",
             "human_verdict_from": f"boolean score '{name}', else labels: " + (", ".join(mapping) or "none"),
             **result.as_dict()}
        )  # fmt: skip
    return report


def calibration_by_evaluator(project: Project) -> dict[str, dict]:
    """calibration_report by evaluator: the figures evals.modes gates a blocking judge on (its provider)."""
    return {row["evaluator"]: row for row in calibration_report(project=project)}


def gate_settings(*, project: Project) -> tuple[dict[str, float], set[str]]:
    """(calibrated thresholds, blocking judges): the judges that may block a release, with their thresholds."""
    thresholds, blocking = {}, set()
    for row in calibration_report(project=project):
        if row["kind"] == "judge" and row["gate_eligible"]:
            blocking.add(row["evaluator"])
            if row["threshold"] is not None:
                thresholds[row["evaluator"]] = row["threshold"]
    return thresholds, blocking
