"""The human review pages: queues and their routing rules, the keyboard-first review page, golden sets with
their versions and regression runs, calibration of the automated evaluators, and the weekly triage.

Access, checked in every view (a partial can be requested on its own): members of the project read these
pages; owners, admins, engineers and reviewers review; only owners, admins and engineers change queues,
routing rules and golden sets. Everyone else gets the 404 an outsider gets, so nothing can be probed.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url

from annotations import calibration as calibration_math
from annotations import exporters, selectors, services
from annotations.forms import (
    AddToQueueForm,
    GoldenSetForm,
    PromoteForm,
    QueueForm,
    ReviewForm,
    RoutingRuleForm,
    TaxonomyForm,
    describe_rule,
)
from annotations.models import GoldenSet, Queue, QueueItem
from evals import selectors as eval_selectors
from peekr_web.errors import sentence
from traces import selectors as trace_selectors
from traces.access import Action, membership_for, requires, role_can
from traces.models import Membership, Trace
from traces.waterfall import layout

WATERFALL_ROWS = 500
QUEUE_ITEMS_SHOWN = 100
RUNS_SHOWN = 50
LABEL_KEYS = 9  # digits 1-9 toggle the first nine labels


# --- Access ---


def _queue(membership: Membership, queue_id: int) -> Queue:
    queue = Queue.objects.filter(project=membership.project, pk=queue_id).first()
    if queue is None:
        raise Http404("No such queue")
    return queue


def _item(membership: Membership, item_id: int) -> QueueItem:
    item = (
        QueueItem.objects.select_related("queue", "trace", "span", "claimed_by")
        .filter(queue__project=membership.project, pk=item_id)
        .first()
    )
    if item is None:
        raise Http404("No such item")
    return item


def _golden_set(membership: Membership, set_id: int) -> GoldenSet:
    golden_set = GoldenSet.objects.filter(project=membership.project, pk=set_id).first()
    if golden_set is None:
        raise Http404("No such golden set")
    return golden_set


def _page(request: HttpRequest, template: str, context: dict, membership: Membership) -> HttpResponse:
    context.setdefault("nav_projects", trace_selectors.user_projects(user=request.user))
    context.update(
        membership=membership,
        project=membership.project,
        can_manage=role_can(membership.role, Action.MANAGE_REVIEW),
        can_review=role_can(membership.role, Action.REVIEW),
    )
    return render(request, template, context)


def _wants_partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Back to the page the form was on (the trace list, a trace, triage), never to another site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


# --- Queues ---


@login_required
@require_GET
@requires(Action.VIEW_REVIEW)
def queue_list(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    return _queue_list_page(request, membership, QueueForm())


@login_required
@require_POST
@requires(Action.MANAGE_REVIEW)
def taxonomy_update(request: HttpRequest, project_id: int) -> HttpResponse:
    """Replace the project's failure labels (managers only)."""
    membership = membership_for(request, project_id)
    form = TaxonomyForm(request.POST)
    if form.is_valid():
        try:
            labels = services.taxonomy_set(project=membership.project, labels=form.cleaned_data["labels"])
        except services.ReviewInvalid as exc:
            form.add_error("labels", sentence(exc))
        else:
            messages.success(request, f"Failure labels saved: {', '.join(labels)}.")
            return redirect("annotations:queue_list", project_id=project_id)
    return _queue_list_page(request, membership, QueueForm(), taxonomy_form=form)


def _queue_list_page(request, membership, form, taxonomy_form=None) -> HttpResponse:
    project = membership.project
    queues = list(Queue.objects.filter(project=project).prefetch_related("routing_rules").order_by("name"))
    # A handful of queues per project: one progress read each.
    rows = [
        {
            "queue": q,
            "progress": selectors.queue_progress(queue=q),
            "rules": [describe_rule(r) for r in q.routing_rules.all() if r.active],
        }
        for q in queues
    ]
    labels = services.taxonomy_get(project=project)
    if taxonomy_form is None:
        taxonomy_form = TaxonomyForm(initial={"labels": "\n".join(labels)})
    context = {"rows": rows, "form": form, "labels": labels, "taxonomy_form": taxonomy_form}
    return _page(request, "annotations/queue_list.html", context, membership)


@login_required
@require_POST
@requires(Action.MANAGE_REVIEW)
def queue_create(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    form = QueueForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            queue = services.queue_create(
                project=membership.project,
                name=data["name"],
                description=data["description"],
                score_configs=data["score_configs"],
                reviews_per_item=data["reviews_per_item"],
            )
        except services.ReviewInvalid as exc:
            form.add_error(None, sentence(exc))
        else:
            messages.success(request, f"Queue “{queue.name}” created. Add routing rules or traces to fill it.")
            return redirect("annotations:queue_detail", project_id=project_id, queue_id=queue.pk)
    return _queue_list_page(request, membership, form)


@login_required
@require_GET
@requires(Action.VIEW_REVIEW)
def queue_detail(request: HttpRequest, project_id: int, queue_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    queue = _queue(membership, queue_id)
    return _queue_page(request, membership, queue, RoutingRuleForm())


def _queue_page(request, membership, queue, rule_form) -> HttpResponse:
    items = list(
        QueueItem.objects.filter(queue=queue)
        .select_related("trace", "claimed_by")
        .prefetch_related("annotations")
        .order_by("created_at", "pk")[:QUEUE_ITEMS_SHOWN]
    )
    # The promote step: reviewed items with failure labels, grouped so one representative per pattern goes in.
    flagged = [i for i in items if any(a.labels for a in i.annotations.all())]
    by_pk = {i.pk: i for i in flagged}
    groups = [
        {"representative": by_pk[g.representative], "duplicates": [by_pk[m] for m in g.members[1:]], "labels": g.labels}
        for g in services.promotion_groups(items=flagged)
    ]
    golden_sets = list(GoldenSet.objects.filter(project=membership.project).order_by("name"))
    context = {
        "queue": queue,
        "progress": selectors.queue_progress(queue=queue),
        "rules": [(r, describe_rule(r)) for r in queue.routing_rules.order_by("pk")],
        "rule_form": rule_form,
        "items": items,
        "total_items": QueueItem.objects.filter(queue=queue).count(),
        "groups": groups,
        "golden_sets": golden_sets,
    }
    return _page(request, "annotations/queue_detail.html", context, membership)


@login_required
@require_POST
@requires(Action.MANAGE_REVIEW)
def routing_rule_create(request: HttpRequest, project_id: int, queue_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    queue = _queue(membership, queue_id)
    form = RoutingRuleForm(request.POST)
    if form.is_valid():
        try:
            rule = services.routing_rule_create(queue=queue, kind=form.cleaned_data["kind"], params=form.rule_params())
        except services.ReviewInvalid as exc:
            form.add_error(None, sentence(exc))
        else:
            messages.success(request, f"Routing rule added: {describe_rule(rule)}.")
            return redirect("annotations:queue_detail", project_id=project_id, queue_id=queue.pk)
    return _queue_page(request, membership, queue, form)


@login_required
@require_POST
@requires(Action.MANAGE_REVIEW)
def routing_rule_delete(request: HttpRequest, project_id: int, queue_id: int, rule_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    queue = _queue(membership, queue_id)
    rule = queue.routing_rules.filter(pk=rule_id).first()
    if rule is None:
        raise Http404("No such rule")
    rule.delete()
    messages.success(request, f"Routing rule removed: {describe_rule(rule)}.")
    return redirect("annotations:queue_detail", project_id=project_id, queue_id=queue.pk)


@login_required
@require_POST
@requires(Action.REVIEW)
def queue_add(request: HttpRequest, project_id: int) -> HttpResponse:
    """Add traces by hand (one from the trace page, several from the list or triage) to a queue."""
    membership = membership_for(request, project_id)
    project = membership.project
    queues = Queue.objects.filter(project=project).order_by("name")
    form = AddToQueueForm(request.POST, queues=queues)
    fallback = reverse("traces:trace_list", args=[project_id])
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return _back(request, fallback)
    queue = _queue(membership, form.cleaned_data["queue"])
    ids = [t.lower() for t in form.cleaned_data["trace_ids"]]
    pks = list(Trace.objects.filter(project=project, trace_id__in=ids).values_list("pk", flat=True))
    added = services.queue_items_add(queue=queue, trace_pks=pks, reason="manual")
    already = len(pks) - len(added)
    note = f" ({already} already in it)" if already else ""
    messages.success(request, f"Added {len(added)} trace{'s' if len(added) != 1 else ''} to “{queue.name}”{note}.")
    return _back(request, fallback)


@login_required
@require_GET
@requires(Action.VIEW_REVIEW)
def queue_picker(request: HttpRequest, project_id: int) -> HttpResponse:
    """The "Add to queue" control the trace list (?bulk=1) and the trace page (?trace=<id>) load with htmx.

    Empty for members who do not review; outsiders get a 404 like everywhere else.
    """
    membership = membership_for(request, project_id)
    context = {
        "queues": list(Queue.objects.filter(project=membership.project).order_by("name"))
        if role_can(membership.role, Action.REVIEW)
        else [],
        "trace_id": request.GET.get("trace", ""),
        "bulk": bool(request.GET.get("bulk")),
        "next": request.GET.get("next", ""),
    }
    return _page(request, "annotations/_queue_picker.html", context, membership)


@login_required
@require_POST
@requires(Action.REVIEW)
def queue_promote(request: HttpRequest, project_id: int, queue_id: int) -> HttpResponse:
    """Promote the chosen reviewed items (the groups' representatives, by default) into a golden set."""
    membership = membership_for(request, project_id)
    queue = _queue(membership, queue_id)
    form = PromoteForm(request.POST, golden_sets=GoldenSet.objects.filter(project=membership.project))
    item_pks = [int(pk) for pk in request.POST.getlist("items") if pk.isdigit()]
    items = list(QueueItem.objects.filter(queue=queue, pk__in=item_pks).select_related("queue", "trace", "span"))
    if not form.is_valid() or not items:
        messages.error(request, "Pick a golden set and at least one item to promote.")
        return redirect("annotations:queue_detail", project_id=project_id, queue_id=queue.pk)
    golden_set = _golden_set(membership, form.cleaned_data["golden_set"])
    version = services.golden_items_promote(
        golden_set=golden_set, items_or_traces=items, group=True, created_by=request.user
    )
    if version is None:
        messages.success(request, f"Nothing new for “{golden_set.name}”: those cases (or near-duplicates) are in it.")
    else:
        messages.success(request, f"“{golden_set.name}” version {version.number}: {version.note}.")
    return redirect("annotations:queue_detail", project_id=project_id, queue_id=queue.pk)


# --- Reviewing ---


@login_required
@require_GET
@requires(Action.REVIEW)
def review_next(request: HttpRequest, project_id: int, queue_id: int) -> HttpResponse:
    """Claim the reviewer's next item and open it; when nothing is left for them, say so."""
    membership = membership_for(request, project_id)
    queue = _queue(membership, queue_id)
    item = services.queue_item_claim(queue=queue, user=request.user)
    if item is None:
        return _review_done(request, membership, queue)
    return redirect("annotations:review_item", project_id=project_id, item_id=item.pk)


def _review_done(request, membership, queue) -> HttpResponse:
    context = {"queue": queue, "item": None, **_progress_context(queue, request.user)}
    template = "annotations/review.html#review" if _wants_partial(request) else "annotations/review.html"
    return _page(request, template, context, membership)


def _progress_context(queue: Queue, user) -> dict:
    progress = selectors.queue_progress(queue=queue)
    mine = next((r for r in progress["reviewers"] if r["reviewer_id"] == user.pk), None)
    return {"progress": progress, "my_done": mine["reviews"] if mine else 0}


@login_required
@require_http_methods(["GET", "POST"])
@requires(Action.REVIEW)
def review_item(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    """One item under review: the whole trace and the review form. POST completes it and opens the next."""
    membership = membership_for(request, project_id)
    item = _item(membership, item_id)
    queue = item.queue
    form = _review_form(queue, membership, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.annotation_submit(
                item=item,
                reviewer=request.user,
                labels=data["labels"],
                values=form.values(),
                comment=data["comment"],
                expected_output=data["expected_output"],
            )
        except services.ReviewInvalid as exc:
            form.add_error(None, sentence(exc))
        else:
            note = _promote_after_review(request, membership, item, form)
            messages.success(request, f"Reviewed “{item.trace.name or item.trace.trace_id}”.{note}")
            return _open_next(request, membership, queue)
    return _review_page(request, membership, item, form)


def _review_form(queue: Queue, membership: Membership, data=None) -> ReviewForm:
    golden_sets = list(GoldenSet.objects.filter(project=membership.project).order_by("name"))
    form = ReviewForm(
        data,
        taxonomy=services.taxonomy_get(project=membership.project),
        score_configs=queue.score_configs,
        golden_sets=golden_sets,
        initial={"golden_set": golden_sets[0].pk if golden_sets else None},
    )
    return form


def _promote_after_review(request, membership, item: QueueItem, form: ReviewForm) -> str:
    if not form.cleaned_data.get("promote") or not form.cleaned_data.get("golden_set"):
        return ""
    golden_set = _golden_set(membership, form.cleaned_data["golden_set"])
    item = QueueItem.objects.select_related("queue", "trace", "span").get(pk=item.pk)
    # One deliberate promotion: the reviewer chose this case, so near-duplicate grouping does not drop it.
    version = services.golden_items_promote(
        golden_set=golden_set, items_or_traces=[item], group=False, created_by=request.user
    )
    if version is None:
        return f" It is already in “{golden_set.name}”."
    return f" Promoted to “{golden_set.name}” (version {version.number})."


def _open_next(request, membership, queue) -> HttpResponse:
    item = services.queue_item_claim(queue=queue, user=request.user)
    if not _wants_partial(request):
        if item is None:
            return redirect("annotations:review_next", project_id=queue.project_id, queue_id=queue.pk)
        return redirect("annotations:review_item", project_id=queue.project_id, item_id=item.pk)
    if item is None:
        response = _review_done(request, membership, queue)
        return push_url(response, reverse("annotations:review_next", args=[queue.project_id, queue.pk]))
    item = _item(membership, item.pk)
    response = _review_page(request, membership, item, _review_form(queue, membership))
    return push_url(response, reverse("annotations:review_item", args=[queue.project_id, item.pk]))


def _review_page(request, membership, item: QueueItem, form: ReviewForm) -> HttpResponse:
    project, queue, trace = membership.project, item.queue, item.trace
    waterfall = layout(trace_selectors.waterfall_spans(trace=trace))
    wanted = request.GET.get("span", "") if request.method == "GET" else ""
    span = None
    if wanted:
        span = trace_selectors.span_get(project=project, span_id=wanted)
    if span is None or span.trace_id != trace.pk:
        preferred = item.span if item.span is not None and not item.span.is_internal else None  # never the judge's
        span = preferred or (
            trace_selectors.span_get(project=project, span_id=trace.root_span_id) if trace.root_span_id else None
        )
    item_url = reverse("annotations:review_item", args=[project.pk, item.pk])
    neighbours = _neighbours(item)
    annotations = list(selectors.item_annotations(item=item))
    context = {
        "queue": queue,
        "item": item,
        "trace": trace,
        "form": form,
        "label_rows": _label_rows(form),
        "case": services.case_from_trace(trace=trace, span=item.span),
        "trace_scores": eval_selectors.scores_for_traces(trace_pks=[trace.pk]),
        "waterfall": waterfall,
        "rows": waterfall.rows[:WATERFALL_ROWS],
        "next_offset": WATERFALL_ROWS if len(waterfall.rows) > WATERFALL_ROWS else None,
        "remaining": max(len(waterfall.rows) - WATERFALL_ROWS, 0),
        "span": span,
        "selected_id": span.span_id if span else "",
        "span_base": item_url + "/spans/",
        "waterfall_url": reverse("traces:waterfall_rows", args=[project.pk, trace.trace_id]),
        "item_url": item_url,
        "prev_url": reverse("annotations:review_item", args=[project.pk, neighbours["prev"]])
        if neighbours["prev"]
        else "",
        "next_url": reverse("annotations:review_item", args=[project.pk, neighbours["next"]])
        if neighbours["next"]
        else "",
        "position": neighbours["position"],
        "annotations": annotations,
        "mine": next((a for a in annotations if a.reviewer_id == request.user.pk), None),
        "held_by_other": item.claimed_by_id not in (None, request.user.pk)
        and item.claim_expires_at is not None
        and item.claim_expires_at >= timezone.now(),
        **_progress_context(queue, request.user),
    }
    template = "annotations/review.html#review" if _wants_partial(request) else "annotations/review.html"
    return _page(request, template, context, membership)


def _neighbours(item: QueueItem) -> dict:
    """The items before and after this one in queue order (j / k), and its position."""
    order = list(selectors.queue_items(queue=item.queue).values_list("pk", flat=True))
    i = order.index(item.pk)
    return {
        "prev": order[i - 1] if i > 0 else None,
        "next": order[i + 1] if i + 1 < len(order) else None,
        "position": {"index": i + 1, "total": len(order)},
    }


def _label_rows(form: ReviewForm) -> list[dict]:
    """The label checkboxes with their digit (1-9), in taxonomy order."""
    chosen = set(form["labels"].value() or [])
    return [
        {"value": value, "key": str(i) if i <= LABEL_KEYS else "", "checked": value in chosen, "id": f"label-{i}"}
        for i, (value, _) in enumerate(form.fields["labels"].choices, start=1)
    ]


@login_required
@require_GET
@requires(Action.REVIEW)
def review_span(request: HttpRequest, project_id: int, item_id: int, span_id: str) -> HttpResponse:
    """A span's detail panel beside the review form (the URL stays on the item)."""
    membership = membership_for(request, project_id)
    item = _item(membership, item_id)
    span = trace_selectors.span_get(project=membership.project, span_id=span_id)
    if span is None or span.trace_id != item.trace_id:
        raise Http404("No such span")
    if not _wants_partial(request):
        return redirect(reverse("annotations:review_item", args=[project_id, item.pk]) + f"?span={span.span_id}")
    return _page(request, "traces/trace_detail.html#span_detail", {"span": span}, membership)


@login_required
@require_POST
@requires(Action.REVIEW)
def review_skip(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    item = _item(membership, item_id)
    services.queue_item_skip(item=item, user=request.user)
    messages.success(request, "Item skipped.")
    return _open_next(request, membership, item.queue)


@login_required
@require_POST
@requires(Action.REVIEW)
def review_release(request: HttpRequest, project_id: int, item_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    item = _item(membership, item_id)
    services.queue_item_release(item=item, user=request.user)
    messages.success(request, "Item given back to the queue.")
    return redirect("annotations:queue_detail", project_id=project_id, queue_id=item.queue_id)


# --- Golden sets ---


@login_required
@require_http_methods(["GET", "POST"])
@requires(Action.VIEW_REVIEW, post=Action.MANAGE_REVIEW)
def golden_set_list(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    form = GoldenSetForm()
    if request.method == "POST":
        membership = membership_for(request, project_id)
        form = GoldenSetForm(request.POST)
        if form.is_valid():
            try:
                golden_set = services.golden_set_create(project=membership.project, **form.cleaned_data)
            except services.ReviewInvalid as exc:
                form.add_error(None, sentence(exc))
            else:
                messages.success(request, f"Golden set “{golden_set.name}” created: promote reviewed items into it.")
                return redirect("annotations:golden_set_detail", project_id=project_id, set_id=golden_set.pk)
    sets = selectors.golden_sets_with_latest(project=membership.project)
    for row in sets:
        row["growth"] = selectors.golden_set_growth(golden_set=row["golden_set"])
    context = {
        "sets": sets,
        "total": sum(row["growth"]["total"] for row in sets),
        "added_last_quarter": sum(row["growth"]["added_last_quarter"] for row in sets),
        "form": form,
    }
    return _page(request, "annotations/golden_set_list.html", context, membership)


@login_required
@require_GET
@requires(Action.VIEW_REVIEW)
def golden_set_detail(request: HttpRequest, project_id: int, set_id: int) -> HttpResponse:
    """A version of a golden set (the latest unless ?version=N): its cases, exactly as written."""
    membership = membership_for(request, project_id)
    golden_set = _golden_set(membership, set_id)
    versions = list(golden_set.versions.order_by("-number"))
    version = versions[0] if versions else None
    wanted = request.GET.get("version", "")
    if wanted:
        version = next((v for v in versions if str(v.number) == wanted), None)
        if version is None:
            raise Http404("No such version")
    context = {
        "golden_set": golden_set,
        "versions": versions,
        "version": version,
        "is_latest": bool(versions) and version == versions[0],
        "items": list(version.items.order_by("added_at", "pk")) if version else [],
        "growth": selectors.golden_set_growth(golden_set=golden_set),
        "run_count": selectors.runs_for_project(project=membership.project, golden_set=golden_set).count(),
    }
    return _page(request, "annotations/golden_set_detail.html", context, membership)


@login_required
@require_GET
@requires(Action.VIEW_REVIEW)
def golden_export(request: HttpRequest, project_id: int, set_id: int, fmt: str) -> HttpResponse:
    """A version's cases as JSONL or as a self-contained pytest file (?version=N, else the latest)."""
    membership = membership_for(request, project_id)
    golden_set = _golden_set(membership, set_id)
    number = request.GET.get("version", "")
    version = selectors.golden_version_get(golden_set=golden_set, number=int(number) if number.isdigit() else None)
    if version is None or fmt not in ("jsonl", "pytest"):
        raise Http404("No such version")
    cases = [item.as_case() for item in selectors.golden_items(version=version)]
    if fmt == "jsonl":
        body, filename, kind = (
            exporters.cases_to_jsonl(cases),
            exporters.jsonl_file_name(golden_set.name, version.number),
            "application/x-ndjson",
        )
    else:
        body = exporters.cases_to_pytest(name=golden_set.name, version=version.number, cases=cases)
        filename, kind = exporters.pytest_module_name(golden_set.name), "text/x-python"
    response = HttpResponse(body, content_type=f"{kind}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_POST
@requires(Action.REVIEW)
def golden_promote_trace(request: HttpRequest, project_id: int) -> HttpResponse:
    """One click from triage (or a trace): the trace, with its reviews if any, into a golden set."""
    membership = membership_for(request, project_id)
    form = PromoteForm(request.POST, golden_sets=GoldenSet.objects.filter(project=membership.project))
    fallback = reverse("annotations:triage", args=[project_id])
    trace = trace_selectors.trace_get(project=membership.project, trace_id=request.POST.get("trace_id", ""))
    if not form.is_valid() or trace is None:
        messages.error(request, "Pick a golden set and a trace to promote.")
        return _back(request, fallback)
    golden_set = _golden_set(membership, form.cleaned_data["golden_set"])
    version = services.golden_items_promote(
        golden_set=golden_set, items_or_traces=[trace], group=True, created_by=request.user
    )
    if version is None:
        messages.success(request, f"“{golden_set.name}” already holds this case or a near-duplicate of it.")
    else:
        messages.success(request, f"Promoted to “{golden_set.name}” (version {version.number}).")
    return _back(request, fallback)


@login_required
@require_POST
@requires(Action.MANAGE_REVIEW)
def golden_item_remove(request: HttpRequest, project_id: int, set_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    golden_set = _golden_set(membership, set_id)
    try:
        version = services.golden_item_remove(golden_set=golden_set, case_id=request.POST.get("case_id", ""))
    except services.ReviewInvalid as exc:
        messages.error(request, sentence(exc))
        return redirect("annotations:golden_set_detail", project_id=project_id, set_id=golden_set.pk)
    messages.success(request, f"Version {version.number} written without that case; earlier versions keep it.")
    return redirect("annotations:golden_set_detail", project_id=project_id, set_id=golden_set.pk)


@login_required
@require_GET
@requires(Action.VIEW_REVIEW)
def golden_runs(request: HttpRequest, project_id: int, set_id: int) -> HttpResponse:
    """The set's regression runs; ?a=<run>&b=<run> puts two side by side, pass/fail per case."""
    membership = membership_for(request, project_id)
    golden_set = _golden_set(membership, set_id)
    runs = list(selectors.runs_for_project(project=membership.project, golden_set=golden_set)[:RUNS_SHOWN])
    by_pk = {str(r.pk): r for r in runs}
    # Default comparison: the latest run against the one before it.
    base = by_pk.get(request.GET.get("a", "")) or (runs[1] if len(runs) > 1 else None)
    head = by_pk.get(request.GET.get("b", "")) or (runs[0] if runs else None)
    comparison = selectors.run_compare(base=base, head=head) if base and head and base != head else None
    context = {
        "golden_set": golden_set,
        "runs": runs,
        "base": base,
        "head": head,
        "comparison": comparison,
        "regressed": sum(1 for row in comparison or [] if row["regressed"]),
        "fixed": sum(1 for row in comparison or [] if row["base"] is False and row["head"] is True),
    }
    return _page(request, "annotations/golden_runs.html", context, membership)


# --- Calibration and triage ---


@login_required
@require_GET
@requires(Action.VIEW_REVIEW)
def calibration(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    context = {
        "rows": selectors.calibration_report(project=membership.project),
        "min_items": calibration_math.GATE_MIN_ITEMS,
        "kappa_min_items": calibration_math.KAPPA_MIN_ITEMS,
        "min_agreement": calibration_math.GATE_MIN_AGREEMENT,
    }
    return _page(request, "annotations/calibration.html", context, membership)


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def triage(request: HttpRequest, project_id: int) -> HttpResponse:
    """The week's worst-scoring traces, each one click from a queue or a golden set."""
    membership = membership_for(request, project_id)
    return _page(request, "annotations/triage.html", selectors.weekly_triage(project=membership.project), membership)
