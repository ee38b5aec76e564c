"""JSON API for human review: queues, items, annotations, golden sets, versions, runs, calibration, triage.

Reviewing calls (claim, annotate, release, skip) act as a person: they need a personal API token, whose user
is the reviewer (a project key answers 403, and so does a `reviewer` field naming someone else). Every claim,
label and promotion records who made it. Anything of another project answers 404.
"""

from typing import Literal

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Path, Query, Router, Status

from annotations import exporters, selectors, services
from annotations.models import GoldenSet, GoldenSetVersion, Queue, QueueItem, RegressionRun, RoutingRule
from annotations.schemas import (
    AnnotationIn,
    AnnotationOut,
    CalibrationOut,
    Error,
    GoldenSetIn,
    GoldenSetOut,
    ItemOut,
    ItemsAddIn,
    ItemsAddOut,
    PromoteIn,
    PromoteOut,
    QueueDetailOut,
    QueueIn,
    QueueOut,
    ResultOut,
    ReviewerIn,
    RoutingRuleIn,
    RoutingRuleOut,
    RunDetailOut,
    RunOut,
    TaxonomyIn,
    TaxonomyOut,
    TriageOut,
    VersionDetailOut,
    VersionOut,
)
from peekr_web.errors import Forbidden, NotFound
from peekr_web.schemas import Id, SafeStr
from traces.access import Action, api_requires, api_user
from traces.audit import audit_label, audit_request
from traces.models import Trace

router = Router(tags=["review"])


def _queue(request, queue_id: int) -> Queue:
    return get_object_or_404(Queue, pk=queue_id, project=request.project)


def _item(request, item_pk: int) -> QueueItem:
    item = selectors.item_get(project=request.project, item_pk=item_pk)
    if item is None:
        raise NotFound(f"no queue item {item_pk}")
    return item


def _golden_set(request, set_id: int) -> GoldenSet:
    return get_object_or_404(GoldenSet, pk=set_id, project=request.project)


def _reviewer(request, username: str):
    """The token's user (api_requires(REVIEW) let only a person with a reviewing role through); a `reviewer`
    naming someone else is refused rather than acted upon."""
    user = api_user(request)
    if username and username != user.get_username():
        raise Forbidden(f"reviewer {username!r} is not this token's user ({user.get_username()!r})")
    return user


def queue_out(queue: Queue) -> dict:
    out = {f: getattr(queue, f) for f in ("name", "description", "score_configs", "reviews_per_item",
                                           "claim_seconds", "created_at")}  # fmt: skip
    out["id"] = queue.pk
    for f in ("total", "pending", "claimed", "completed", "skipped"):
        out[f] = getattr(queue, f, 0)
    return out


def item_out(item: QueueItem) -> dict:
    return {
        "id": item.pk,
        "queue_id": item.queue_id,
        "trace_id": item.trace.trace_id,
        "span_id": item.span.span_id if item.span_id else None,
        "reason": item.reason,
        "status": item.status,
        "claimed_by": item.claimed_by.username if item.claimed_by_id else None,
        "claim_expires_at": item.claim_expires_at,
        "reviews_done": item.reviews_done,
        "created_at": item.created_at,
        "completed_at": item.completed_at,
    }


def version_out(version: GoldenSetVersion, items_count: int | None = None) -> dict:
    n = items_count if items_count is not None else version.items.count()
    return {"number": version.number, "note": version.note, "created_at": version.created_at, "items_count": n}


def run_out(run: RegressionRun) -> dict:
    return {
        "id": run.pk,
        "golden_set": run.version.golden_set.name,
        "version": run.version.number,
        **{f: getattr(run, f) for f in ("name", "target", "model", "status", "summary", "started_at", "finished_at")},
    }


# ---------------------------------------------------------------- queues


@router.get("/queues", response=list[QueueOut], summary="List review queues")
@api_requires(Action.VIEW_REVIEW)
def list_queues(request):
    """The project's queues with their progress counts."""
    return [queue_out(q) for q in selectors.queues_with_progress(project=request.project)]


@router.post("/queues", response={201: QueueOut, 400: Error}, summary="Create a review queue")
@api_requires(Action.MANAGE_REVIEW)
def create_queue(request, payload: QueueIn):
    queue = services.queue_create(project=request.project, **payload.dict())
    return Status(201, queue_out(queue))


@router.get("/queues/{queue_id}", response={200: QueueDetailOut, 404: Error}, summary="Get a queue's progress")
@api_requires(Action.VIEW_REVIEW)
def get_queue(request, queue_id: Id):
    """Progress of the queue, and reviews per reviewer."""
    queue = _queue(request, queue_id)
    progress = selectors.queue_progress(queue=queue)
    return {**queue_out(queue), **progress}


@router.get("/queues/{queue_id}/routing-rules", response={200: list[RoutingRuleOut], 404: Error}, summary="Routing")
@api_requires(Action.VIEW_REVIEW)
def list_routing_rules(request, queue_id: Id):
    return list(RoutingRule.objects.filter(queue=_queue(request, queue_id)).order_by("pk"))


@router.post(
    "/queues/{queue_id}/routing-rules", response={201: RoutingRuleOut, 400: Error, 404: Error}, summary="Add routing"
)
@api_requires(Action.MANAGE_REVIEW)
def create_routing_rule(request, queue_id: Id, payload: RoutingRuleIn):
    """Route completed traces into this queue automatically: failing rule, score below / in a band,
    thumbs-down, escalation, detector finding, or a random sample."""
    rule = services.routing_rule_create(queue=_queue(request, queue_id), **payload.dict())
    return Status(201, rule)


@router.get("/queues/{queue_id}/items", response={200: list[ItemOut], 404: Error}, summary="List a queue's items")
@api_requires(Action.VIEW_REVIEW)
def list_items(
    request,
    queue_id: Id,
    status: SafeStr = "",
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
):
    qs = selectors.queue_items(queue=_queue(request, queue_id), status=status or None).select_related("span")
    return [item_out(i) for i in qs[offset : offset + limit]]


@router.post("/queues/{queue_id}/items", response={201: ItemsAddOut, 404: Error}, summary="Add traces to a queue")
@api_requires(Action.MANAGE_REVIEW)
def add_items(request, queue_id: Id, payload: ItemsAddIn):
    """Add traces by id, one or in bulk; traces already in the queue (or unknown) are left out."""
    queue = _queue(request, queue_id)
    pks = Trace.objects.filter(project=request.project, trace_id__in=payload.trace_ids).values_list("pk", flat=True)
    items = services.queue_items_add(queue=queue, trace_pks=list(pks), reason=payload.reason)
    items = QueueItem.objects.filter(pk__in=[i.pk for i in items]).select_related("trace", "span", "claimed_by")
    return Status(201, {"added": len(items), "items": [item_out(i) for i in items]})


@router.post("/queues/{queue_id}/claim", response={200: ItemOut, 204: None, 404: Error}, summary="Claim the next item")
@api_requires(Action.REVIEW)
def claim_next(request, queue_id: Id, payload: ReviewerIn):
    """The reviewer's next item, claimed for them for the queue's claim time; 204 when nothing is left."""
    queue = _queue(request, queue_id)
    item = services.queue_item_claim(queue=queue, user=_reviewer(request, payload.reviewer))
    if item is None:
        return Status(204, None)
    audit_request(request, project=request.project, action="review.claim", target=f"item {item.pk}")
    return item_out(selectors.item_get(project=request.project, item_pk=item.pk))


@router.post(
    "/queue-items/{item_id}/annotations", response={201: AnnotationOut, 400: Error, 404: Error}, summary="Annotate"
)
@api_requires(Action.REVIEW)
def annotate(request, item_id: Id, payload: AnnotationIn):
    """Failure labels from the taxonomy, a value per score config, a comment, the expected output."""
    item = _item(request, item_id)
    reviewer = _reviewer(request, payload.reviewer)
    a = services.annotation_submit(item=item, reviewer=reviewer, **payload.dict(exclude={"reviewer"}))
    out = {f: getattr(a, f) for f in ("labels", "values", "comment", "expected_output", "created_at")}
    return Status(201, {**out, "id": a.pk, "item_id": item.pk, "reviewer": reviewer.username,
                        "item_status": item.status, "reviews_done": item.reviews_done})  # fmt: skip


@router.post("/queue-items/{item_id}/release", response={200: ItemOut, 404: Error}, summary="Release a claim")
@api_requires(Action.REVIEW)
def release(request, item_id: Id, payload: ReviewerIn):
    item = _item(request, item_id)
    services.queue_item_release(item=item, user=_reviewer(request, payload.reviewer))
    return item_out(_item(request, item_id))


@router.post("/queue-items/{item_id}/skip", response={200: ItemOut, 404: Error}, summary="Skip an item")
@api_requires(Action.REVIEW)
def skip(request, item_id: Id, payload: ReviewerIn):
    item = _item(request, item_id)
    services.queue_item_skip(item=item, user=_reviewer(request, payload.reviewer))
    return item_out(_item(request, item_id))


@router.get("/taxonomy", response=TaxonomyOut, summary="The project's failure labels")
@api_requires(Action.VIEW_REVIEW)
def get_taxonomy(request):
    return {"labels": services.taxonomy_get(project=request.project)}


@router.put("/taxonomy", response={200: TaxonomyOut, 400: Error}, summary="Replace the failure labels")
@api_requires(Action.MANAGE_REVIEW)
def put_taxonomy(request, payload: TaxonomyIn):
    return {"labels": services.taxonomy_set(project=request.project, labels=payload.labels)}


# ---------------------------------------------------------------- golden sets


def golden_set_out(row: dict) -> dict:
    s, version = row["golden_set"], row["version"]
    growth = selectors.golden_set_growth(golden_set=s)
    return {"id": s.pk, "name": s.name, "description": s.description, "created_at": s.created_at,
            "latest_version": version.number if version else None, "items": row["items"],
            "added_last_quarter": growth["added_last_quarter"]}  # fmt: skip


@router.get("/golden-sets", response=list[GoldenSetOut], summary="List golden sets")
@api_requires(Action.VIEW_REVIEW)
def list_golden_sets(request):
    return [golden_set_out(row) for row in selectors.golden_sets_with_latest(project=request.project)]


@router.post("/golden-sets", response={201: GoldenSetOut, 400: Error}, summary="Create a golden set")
@api_requires(Action.MANAGE_REVIEW)
def create_golden_set(request, payload: GoldenSetIn):
    s = services.golden_set_create(project=request.project, **payload.dict())
    return Status(201, golden_set_out({"golden_set": s, "version": None, "items": 0}))


@router.get("/golden-sets/{set_id}/versions", response={200: list[VersionOut], 404: Error}, summary="Versions")
@api_requires(Action.VIEW_REVIEW)
def list_versions(request, set_id: Id):
    from django.db.models import Count

    versions = _golden_set(request, set_id).versions.annotate(n=Count("items")).order_by("-number")
    return [version_out(v, v.n) for v in versions]


@router.get(
    "/golden-sets/{set_id}/versions/{number}", response={200: VersionDetailOut, 404: Error}, summary="One version"
)
@api_requires(Action.VIEW_REVIEW)
def get_version(request, set_id: Id, number: Id):
    """A version with all of its cases, as they were written (versions never change)."""
    version = selectors.golden_version_get(golden_set=_golden_set(request, set_id), number=number)
    if version is None:
        raise NotFound(f"no version {number} of golden set {set_id}")
    items = [i.as_case() for i in selectors.golden_items(version=version)]
    return {**version_out(version, len(items)), "items": items}


EXPORT_CONTENT = {
    "application/x-ndjson": {"schema": {"type": "string"}},
    "text/x-python": {"schema": {"type": "string"}},
}


@router.get(
    "/golden-sets/{set_id}/versions/{number}/export", response={404: Error}, summary="Export as JSONL or a pytest file",
    openapi_extra={"responses": {200: {"description": "the cases as JSON lines or a pytest module", "content": EXPORT_CONTENT}}},
)  # fmt: skip
@api_requires(Action.VIEW_REVIEW)
def export_version(request, set_id: Id, number: Id, format: Literal["jsonl", "pytest"] = "jsonl"):
    golden_set = _golden_set(request, set_id)
    version = selectors.golden_version_get(golden_set=golden_set, number=number)
    if version is None:
        raise NotFound(f"no version {number} of golden set {set_id}")
    cases = [i.as_case() for i in selectors.golden_items(version=version)]
    if format == "jsonl":
        response = HttpResponse(exporters.cases_to_jsonl(cases), content_type="application/x-ndjson")
        filename = exporters.jsonl_file_name(golden_set.name, version.number)
    else:
        text = exporters.cases_to_pytest(name=golden_set.name, version=version.number, cases=cases)
        response = HttpResponse(text, content_type="text/x-python")
        filename = exporters.pytest_module_name(golden_set.name)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@router.post(
    "/golden-sets/{set_id}/promote", response={201: PromoteOut, 200: PromoteOut, 400: Error, 404: Error},
    summary="Promote reviewed items or traces",
)  # fmt: skip
@api_requires(Action.MANAGE_REVIEW)
def promote(request, set_id: Id, payload: PromoteIn):
    """Writes a new version with every earlier case plus one representative per new failure pattern."""
    golden_set = _golden_set(request, set_id)
    items = list(
        QueueItem.objects.filter(pk__in=payload.item_ids, queue__project=request.project).select_related(
            "queue", "trace", "span"
        )
    )
    traces = list(Trace.objects.filter(project=request.project, trace_id__in=payload.trace_ids))
    if len(items) != len(set(payload.item_ids)) or len(traces) != len(set(payload.trace_ids)):
        raise NotFound("unknown item or trace")
    version = services.golden_items_promote(
        golden_set=golden_set, items_or_traces=items + traces, graders=payload.graders, group=payload.group,
        note=payload.note, created_by=api_user(request), created_by_label=audit_label(request),
    )  # fmt: skip
    if version is None:
        return Status(200, {"version": None})
    audit_request(request, project=request.project, action="golden_set.promote",
                  target=f"{golden_set.name} v{version.number}")  # fmt: skip
    return Status(201, {"version": version_out(version)})


@router.delete("/golden-sets/{set_id}/cases/{case_id}", response={201: VersionOut, 404: Error}, summary="Remove a case")
@api_requires(Action.MANAGE_REVIEW)
def remove_case(request, set_id: Id, case_id: Path[SafeStr]):
    """Writes a new version without the case; earlier versions keep it."""
    version = services.golden_item_remove(golden_set=_golden_set(request, set_id), case_id=case_id)
    return Status(201, version_out(version))


# ---------------------------------------------------------------- runs, calibration, triage


@router.get("/regression-runs", response={200: list[RunOut], 404: Error}, summary="List regression runs")
@api_requires(Action.VIEW_REVIEW)
def list_runs(request, golden_set_id: Id | None = None, limit: int = Query(100, ge=1, le=1000)):
    golden_set = _golden_set(request, golden_set_id) if golden_set_id else None
    return [run_out(r) for r in selectors.runs_for_project(project=request.project, golden_set=golden_set)[:limit]]


@router.get("/regression-runs/{run_id}", response={200: RunDetailOut, 404: Error}, summary="A run with its results")
@api_requires(Action.VIEW_REVIEW)
def get_run(request, run_id: Id):
    run = get_object_or_404(
        RegressionRun.objects.select_related("version__golden_set"), pk=run_id,
        version__golden_set__project=request.project,
    )  # fmt: skip
    results = [
        {"case_id": r.item.case_id, **{f: getattr(r, f) for f in ResultOut.model_fields if f != "case_id"}}
        for r in selectors.run_results(run=run)
    ]
    return {**run_out(run), "results": results}


@router.get("/calibration", response=list[CalibrationOut], summary="Evaluator agreement with human reviews")
@api_requires(Action.VIEW_REVIEW)
def calibration(request):
    """Per automated evaluator: percent agreement, Cohen's kappa, sample size, confusion matrix, and whether it
    may block a release (at least 50 labelled items and 85% agreement)."""
    return selectors.calibration_report(project=request.project)


@router.get("/triage", response=TriageOut, summary="The week's worst-scoring traces")
@api_requires(Action.VIEW_TRACES)
def triage(request, limit: int = Query(30, ge=1, le=100)):
    data = selectors.weekly_triage(project=request.project, limit=limit)
    return {
        "traces": [
            {
                "trace_id": r["trace"].trace_id,
                "name": r["trace"].name,
                "start_time": r["trace"].start_time,
                "mean_score": r["mean_score"],
                "scores": r["scores"],
                "failed": r["failed"],
                "queue_ids": r["queue_ids"],
            }
            for r in data["traces"]
        ],  # fmt: skip
        "queues": [{"id": q.pk, "name": q.name} for q in data["queues"]],
        "golden_sets": [{"id": s.pk, "name": s.name} for s in data["golden_sets"]],
    }
