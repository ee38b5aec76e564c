"""The trace explorer's HTML pages: trace list, trace page (waterfall + span detail), sessions, API keys.

Every view declares what it needs (traces.access.requires: a partial can be requested on its own) and answers
404, never 403, for a project the user is not in or may not do that in, so project ids cannot be probed. htmx
requests get the page's partial. Opening a trace's content writes one audit row (traces.audit).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from traces import extensions, search, selectors
from traces.access import Action, membership_for, requires, role_can, trace_visible
from traces.audit import SPAN_VIEW, TRACE_VIEW, audit_request
from traces.models import KeyScope, Membership
from traces.services import api_key_create, api_key_revoke, saved_view_remove, saved_view_save
from traces.waterfall import layout, rows_data

TRACES_PER_PAGE = 50
SESSIONS_PER_PAGE = 50
WATERFALL_ROWS = 500  # rows rendered at once: a 5,000-span trace stays a light page
FIRST_ROWS = 100  # rows the trace page draws itself: waterfall.js replaces them with a virtualised list

RANGES = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
OP_CHOICES = [("eq", "equals"), ("contains", "contains"), ("prefix", "starts with")]


def _page(request: HttpRequest, template: str, context: dict, membership: Membership | None = None) -> HttpResponse:
    """Render a full page or, for htmx, a partial; the nav's project list is a lazy queryset partials never run."""
    context.setdefault("nav_projects", selectors.user_projects(user=request.user))
    if membership is not None:
        context.setdefault("membership", membership)
        context.setdefault("project", membership.project)
    return render(request, template, context)


def _wants_partial(request: HttpRequest) -> bool:
    # A history restore (back button after the snapshot cache was evicted) needs the whole page.
    return bool(request.htmx) and not request.htmx.history_restore_request


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    project = selectors.user_projects(user=request.user).first()
    if project is not None:
        return redirect("traces:project_home", project_id=project.pk)
    return render(request, "traces/home.html", {"nav_projects": []})


@login_required
@require_GET
@requires(Action.MEMBER)
def project_home(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    if not role_can(membership.role, Action.VIEW_TRACES, membership.project):
        return redirect("annotations:queue_list", project_id=project_id)  # a reviewer's way in is the queues
    return redirect("traces:trace_list", project_id=project_id)


# --- Trace list ---


class TraceFilterForm(forms.Form):
    """The list's filters, named as in the JSON API's query string (see selectors.TraceFilters)."""

    q = forms.CharField(  # traces.search: words and "quoted phrases" in the spans' content
        required=False,
        max_length=500,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Search", "title": 'Words, or "a phrase", in any span\'s content'}
        ),
    )
    range = forms.ChoiceField(
        required=False,
        choices=[
            ("all", "All time"),
            ("15m", "Last 15 min"),
            ("1h", "Last hour"),
            ("24h", "Last 24 h"),
            ("7d", "Last 7 days"),
            ("30d", "Last 30 days"),
        ],
    )
    # UTC ISO times (the custom range: static/js/trace_list.js shows and edits them in the viewer's time zone).
    start_after = forms.DateTimeField(required=False, widget=forms.HiddenInput)
    start_before = forms.DateTimeField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(required=False, max_length=500, widget=forms.TextInput(attrs={"placeholder": "Name"}))
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), ("ok", "OK"), ("error", "Error")])
    model = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "Model"}))
    session_id = forms.CharField(
        required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "Session"})
    )
    user_id = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "User"}))
    service = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "Service"}))
    release = forms.CharField(required=False, max_length=100, widget=forms.TextInput(attrs={"placeholder": "Release"}))
    environment = forms.CharField(
        required=False, max_length=100, widget=forms.TextInput(attrs={"placeholder": "Environment"})
    )
    tag = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "Tag"}))
    attr_key = forms.CharField(
        required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "Attribute key"})
    )
    attr_op = forms.ChoiceField(required=False, choices=OP_CHOICES)
    attr_value = forms.CharField(
        required=False, max_length=500, widget=forms.TextInput(attrs={"placeholder": "Attribute value"})
    )
    min_duration_ms = forms.FloatField(
        required=False, min_value=0, widget=forms.NumberInput(attrs={"placeholder": "Min ms", "step": "any"})
    )
    max_duration_ms = forms.FloatField(
        required=False, min_value=0, widget=forms.NumberInput(attrs={"placeholder": "Max ms", "step": "any"})
    )
    min_cost = forms.FloatField(
        required=False, min_value=0, widget=forms.NumberInput(attrs={"placeholder": "Min $", "step": "any"})
    )
    max_cost = forms.FloatField(
        required=False, min_value=0, widget=forms.NumberInput(attrs={"placeholder": "Max $", "step": "any"})
    )
    has_error = forms.ChoiceField(
        required=False,
        choices=[("", "Errors: any"), ("true", "Has errors"), ("false", "No errors")],
    )
    sort = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in selectors.TEXT_FIELDS:  # name_op, model_op...: equals / contains / starts with
            choices = OP_CHOICES if name != "name" else [OP_CHOICES[1], OP_CHOICES[0], OP_CHOICES[2]]
            self.fields[f"{name}_op"] = forms.ChoiceField(
                required=False, choices=choices, widget=forms.Select(attrs={"aria-label": f"{name} match"})
            )
        self.extension_filters = list(extensions.trace_list_filters)  # e.g. evals' score filters
        for extension in self.extension_filters:
            self.fields.update(extension.fields())

    def extension_subqueries(self, project) -> list:
        """The registered filters in use, each as a subquery of trace pks (call after to_filters)."""
        matching = (ext.matching(project=project, data=self.cleaned_data) for ext in self.extension_filters)
        return [subquery for subquery in matching if subquery is not None]

    ADVANCED = (
        "session_id", "user_id", "service", "release", "environment", "tag", "attr_key",
        "min_duration_ms", "max_duration_ms", "min_cost", "max_cost",
    )  # fmt: skip

    def to_filters(self, now: datetime) -> selectors.TraceFilters:
        # Invalid fields are left out of cleaned_data: a bad value is ignored rather than failing the page.
        self.is_valid()
        data = self.cleaned_data
        start_after = data.get("start_after")
        preset = RANGES.get(data.get("range") or "")
        if preset is not None:
            since = now - preset
            start_after = max(start_after, since) if start_after else since
        has_error = {"true": True, "false": False}.get(data.get("has_error") or "")
        return selectors.TraceFilters(
            start_after=start_after,
            start_before=data.get("start_before"),
            **{name: data.get(name) or "" for name in selectors.TEXT_FIELDS},
            ops={name: data.get(f"{name}_op") or "" for name in selectors.TEXT_FIELDS},
            status=data.get("status") or "",
            attr_key=data.get("attr_key") or "",
            attr_op=data.get("attr_op") or "eq",
            attr_value=data.get("attr_value") or "",
            min_duration_ms=data.get("min_duration_ms"),
            max_duration_ms=data.get("max_duration_ms"),
            min_cost=data.get("min_cost"),
            max_cost=data.get("max_cost"),
            has_error=has_error,
            search=data.get("q") or "",
        )

    @property
    def is_filtered(self) -> bool:
        return any(
            value not in (None, "") and value is not False and not (name == "range" and value == "all")
            and not name.endswith("_op") and name != "sort"
            for name, value in self.cleaned_data.items()
        )  # fmt: skip

    @property
    def advanced_used(self) -> bool:
        return any(self.cleaned_data.get(name) not in (None, "") for name in self.ADVANCED)


def query_cleaned(params) -> str:
    """The list's query string with only what is set: no empty field, no default (range=all, sort=-start, an
    operator whose field is empty or that is its field's default). Order kept; `cursor` kept."""
    pairs = []
    for key, values in params.lists():
        for value in values:
            if value == "" or (key == "range" and value == "all") or (key == "sort" and value == "-start"):
                continue
            if key.endswith("_op"):
                base = key.removesuffix("_op")
                default = selectors.DEFAULT_OPS.get(base, "eq")
                if value == default or not params.get("attr_key" if base == "attr" else base):
                    continue
            pairs.append((key, value))
    return urlencode(pairs)


def sort_links(request: HttpRequest, sort: str, keys) -> dict:
    """{key: (url, arrow)} for the sortable headers: a click sorts by it (descending first), again flips it."""
    current, desc = selectors.sort_parse(sort, {k: None for k in keys})
    links = {}
    for key in ("start", "duration", "tokens", "cost", *keys):
        params = request.GET.copy()
        params.pop("cursor", None)
        params["sort"] = key if key == current and desc else f"-{key}"
        arrow = ("↓" if desc else "↑") if key == current else ""
        links[key] = (f"?{query_cleaned(params)}", arrow)
    return links


@login_required
@require_GET
@vary_on_headers("HX-Request", "HX-Target")
@requires(Action.VIEW_TRACES)
def trace_list(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    project = membership.project
    cleaned = query_cleaned(request.GET)
    list_url = reverse("traces:trace_list", args=[project_id])
    if not request.htmx and cleaned != urlencode([(k, v) for k, vs in request.GET.lists() for v in vs]):
        return redirect(f"{list_url}?{cleaned}" if cleaned else list_url)  # URLs carry only the filters set
    form = TraceFilterForm(request.GET)
    filters = form.to_filters(timezone.now())
    filters.pk_in = form.extension_subqueries(project)
    cursor = request.GET.get("cursor", "")
    sorts = extensions.trace_list_sorts()  # e.g. evals' "score"
    sort = form.cleaned_data.get("sort") or "-start"
    page = selectors.trace_page(
        project=project,
        filters=filters,
        cursor=cursor,
        limit=TRACES_PER_PAGE,
        annotate=extensions.trace_list_annotations(),  # the registered columns, in the same query
        sort=sort,
        sorts=sorts,
    )
    # Only an empty first page asks whether the project has any trace at all (the onboarding state).
    empty_project = not page.items and not cursor and not selectors.project_has_traces(project=project)
    total = None
    if not cursor and page.items:  # a later page ("load older") keeps the count the first one showed
        bound = selectors.SEARCH_COUNT_BOUND if filters.search else selectors.COUNT_BOUND
        total = selectors.traces_count(project=project, filters=filters, bound=bound)
    saved_query = query_cleaned(_without(request.GET, "cursor"))
    links = sort_links(request, sort, list(sorts))
    context = {
        "form": form,
        "page": page,
        "cursor": cursor,
        "empty_project": empty_project,
        "columns": extensions.trace_list_columns,
        "colspan": 8 + len(extensions.trace_list_columns),
        "base_url": f"{settings.PEEKR_PUBLIC_URL}/",  # configured, never the request's Host header
        "total": total,
        "sort": sort,
        "sort_links": links,
        "column_heads": [(col, links.get(col.name)) for col in extensions.trace_list_columns],
        "saved_views": selectors.saved_views(user=request.user, project=project),
        "saved_query": saved_query,
        "attr_scan_limit": selectors.ATTRIBUTE_SCAN_TRACES,
        "search_hits": search.hits(project, filters.search, [t.pk for t in page.items]) if filters.search else {},
    }
    template = "traces/trace_list.html"
    if _wants_partial(request):
        template += "#rows" if request.htmx.target == "load-more" else "#results"
    response = _page(request, template, context, membership)
    if request.htmx and request.htmx.target != "load-more":
        push_url(response, f"{list_url}?{cleaned}" if cleaned else list_url)  # htmx pushes the cleaned URL too
    return response


def _without(params, *keys):
    params = params.copy()
    for key in keys:
        params.pop(key, None)
    return params


@login_required
@require_POST
@requires(Action.VIEW_TRACES)
def saved_view_create(request: HttpRequest, project_id: int) -> HttpResponse:
    """Save the list's current query under a name (the user's own; the same name replaces it)."""
    membership = membership_for(request, project_id)
    name = request.POST.get("view_name", "").strip()[:100]
    query = query_cleaned(QueryDict(request.POST.get("query", "")[:2000]))
    list_url = reverse("traces:trace_list", args=[project_id])
    if not name:
        messages.error(request, "Give the view a name.")
        return redirect(f"{list_url}?{query}" if query else list_url)
    saved_view_save(user=request.user, project=membership.project, name=name, query=query)
    messages.success(request, f"View “{name}” saved.")
    return redirect(f"{list_url}?{query}" if query else list_url)


@login_required
@require_POST
@requires(Action.VIEW_TRACES)
def saved_view_delete(request: HttpRequest, project_id: int, view_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    if not saved_view_remove(user=request.user, project=membership.project, view_id=view_id):
        raise Http404
    return redirect("traces:trace_list", project_id=project_id)


# --- Trace page ---


def _selected_span(request: HttpRequest, project, trace, rows):
    """The span whose detail is open: ?span=, else the root, else the first row."""
    wanted = request.GET.get("span", "")
    span_id = wanted or trace.root_span_id or (rows[0].span.span_id if rows else "")
    if not span_id:
        return None
    span = selectors.span_get(project=project, span_id=span_id)
    if span is None or span.trace_id != trace.pk:
        if wanted:
            raise Http404("No such span in this trace")
        return None
    return span


def _trace_urls(project_id: int, trace_id: str) -> dict[str, str]:
    # Reversed once per page, not once per row: a waterfall row only appends the span id.
    trace_url = reverse("traces:trace_detail", args=[project_id, trace_id])
    return {"span_base": trace_url + "/spans/", "waterfall_url": trace_url + "/waterfall"}


def _rows_shown(request: HttpRequest) -> int:
    try:
        return max(FIRST_ROWS, int(request.GET.get("rows", FIRST_ROWS)))
    except ValueError:
        return FIRST_ROWS


def _badges(trace, rows) -> dict:
    """What the apps above traces mark on these rows (evals' scores, insights' findings): traces.extensions."""
    return extensions.span_badges(trace, [row.span for row in rows])


@login_required
@require_GET
@requires(Action.VIEW_RAW)
def trace_detail(request: HttpRequest, project_id: int, trace_id: str) -> HttpResponse:
    membership = membership_for(request, project_id)
    project = membership.project
    trace = selectors.trace_get(project=project, trace_id=trace_id)
    if trace is None or not trace_visible(membership, trace):
        raise Http404("No such trace")
    waterfall = layout(selectors.waterfall_spans(trace=trace))
    span = _selected_span(request, project, trace, waterfall.rows)
    audit_request(request, project=project, action=TRACE_VIEW, target=trace.trace_id,
                  details={"span": span.span_id} if span else None)  # fmt: skip
    shown = _rows_shown(request)
    rows = waterfall.rows[:shown]
    badges = _badges(trace, waterfall.rows)
    context = {
        "trace": trace,
        "waterfall": waterfall,
        "rows": rows,  # drawn by the server for a browser without JS; waterfall.js draws the rows in view from:
        "waterfall_data": rows_data(waterfall, badges),
        "badges": badges,
        "next_offset": shown if len(waterfall.rows) > shown else None,
        "remaining": max(len(waterfall.rows) - shown, 0),
        "span": span,
        "selected_id": span.span_id if span else "",
        **_trace_urls(project_id, trace.trace_id),
    }
    return _page(request, "traces/trace_detail.html", context, membership)


@login_required
@require_GET
@requires(Action.VIEW_RAW)
def waterfall_rows(request: HttpRequest, project_id: int, trace_id: str) -> HttpResponse:
    """The next WATERFALL_ROWS rows of a big trace, appended in place of the "show next" button."""
    membership = membership_for(request, project_id)
    project = membership.project
    trace = selectors.trace_get(project=project, trace_id=trace_id)
    if trace is None or not trace_visible(membership, trace):
        raise Http404("No such trace")
    try:
        offset = max(int(request.GET.get("offset", WATERFALL_ROWS)), 0)
    except ValueError:
        offset = WATERFALL_ROWS
    waterfall = layout(selectors.waterfall_spans(trace=trace))
    end = offset + WATERFALL_ROWS
    rows = waterfall.rows[offset:end]
    context = {
        "trace": trace,
        "rows": rows,
        "badges": _badges(trace, rows),
        "next_offset": end if len(waterfall.rows) > end else None,
        "remaining": max(len(waterfall.rows) - end, 0),
        "selected_id": request.GET.get("span", ""),
        **_trace_urls(project_id, trace.trace_id),
    }
    return _page(request, "traces/trace_detail.html#waterfall_rows", context, membership)


@login_required
@require_GET
@vary_on_headers("HX-Request")
@requires(Action.VIEW_RAW)
def span_detail(request: HttpRequest, project_id: int, trace_id: str, span_id: str) -> HttpResponse:
    """A span's detail panel for htmx; without htmx, the trace page with this span open."""
    membership = membership_for(request, project_id)
    span = selectors.span_get(project=membership.project, span_id=span_id)
    if span is None or span.trace.trace_id != trace_id.lower() or not trace_visible(membership, span.trace):
        raise Http404("No such span")
    page_url = reverse("traces:trace_detail", args=[project_id, span.trace.trace_id]) + f"?span={span.span_id}"
    if not _wants_partial(request):
        return redirect(page_url)
    audit_request(request, project=membership.project, action=SPAN_VIEW, target=span.trace.trace_id,
                  details={"span": span.span_id})  # fmt: skip
    response = _page(request, "traces/_span_detail.html", {"span": span}, membership)
    return push_url(response, page_url)


# --- Sessions ---


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def session_list(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    before = None
    if request.GET.get("before"):
        try:
            before = datetime.fromisoformat(request.GET["before"])
        except ValueError:
            before = None
        if before is not None and timezone.is_naive(before):
            before = before.replace(tzinfo=UTC)
    after_session = request.GET.get("after", "") if before is not None else ""
    sessions = selectors.sessions_page(
        project=membership.project, limit=SESSIONS_PER_PAGE, before=before, after_session=after_session
    )
    full = len(sessions) == SESSIONS_PER_PAGE
    context = {
        "sessions": sessions,
        "before": before,
        "next_before": sessions[-1]["last"].isoformat() if full else "",
        "next_after": sessions[-1]["session_id"] if full else "",
    }
    return _page(request, "traces/session_list.html", context, membership)


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def session_detail(request: HttpRequest, project_id: int, session_id: str) -> HttpResponse:
    membership = membership_for(request, project_id)
    traces = selectors.session_traces(project=membership.project, session_id=session_id)
    if not traces:
        raise Http404("No such session")
    context = {
        "session_id": session_id,
        "traces": traces,
        "totals": {
            "tokens": sum(t.total_tokens for t in traces),
            "cost": sum(t.cost for t in traces),
            "errors": sum(t.error_count for t in traces),
            "duration_ms": (traces[-1].end_time - traces[0].start_time).total_seconds() * 1000
            if traces[-1].end_time
            else None,
            "users": sorted({t.user_id for t in traces if t.user_id}),
        },
    }
    return _page(request, "traces/session_detail.html", context, membership)


# --- API keys ---


NEW_KEY_SESSION = "peekr_new_api_key"
NEW_KEY_SECONDS = 120  # a key not shown by then (the redirect never followed) is dropped unseen


def _new_key_pop(request: HttpRequest, project_pk: int) -> tuple[str, str]:
    """(key, its public part) created a moment ago for this project, once; ("", "") otherwise."""
    held = request.session.get(NEW_KEY_SESSION)
    if not held:
        return "", ""
    expired = time.time() - held.get("at", 0) > NEW_KEY_SECONDS
    if expired or held.get("project") == project_pk:
        del request.session[NEW_KEY_SESSION]
    if expired or held.get("project") != project_pk:
        return "", ""
    return held["key"], held.get("public", "")


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "e.g. production"}))
    scope = forms.ChoiceField(
        choices=[
            (KeyScope.INGEST, "ingest: send traces only"),
            (KeyScope.READ, "read: send nothing, read traces"),
            (KeyScope.ADMIN, "admin: everything a key can do"),
        ],
        initial=KeyScope.INGEST,
        required=False,  # ingest when not given
    )


@login_required
@require_http_methods(["GET", "POST"])
@requires(Action.VIEW_TRACES, post=Action.MANAGE_KEYS)
def keys(request: HttpRequest, project_id: int) -> HttpResponse:
    """List the project's keys; POST creates one and redirects (a reload must not make a second key).

    The new key rides in the session (server-side, for at most NEW_KEY_SECONDS) to the next GET of this
    project's keys page, which pops it: shown once; only its hash is kept after that.
    """
    membership = membership_for(request, project_id)
    project = membership.project
    form = ApiKeyForm()
    if request.method == "POST":
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            key, raw_key = api_key_create(project=project, name=data["name"], scope=data["scope"] or KeyScope.INGEST)
            audit_request(request, project=project, action="key.create", target=key.name,
                          details={"scope": key.scope, "display": key.display})  # fmt: skip
            request.session[NEW_KEY_SESSION] = {
                "project": project.pk,
                "key": raw_key,
                "public": key.public_key,
                "at": time.time(),
            }
            return redirect("traces:keys", project_id=project.pk)
    new_key, new_public_key = _new_key_pop(request, project.pk) if request.method == "GET" else ("", "")
    context = {
        "keys": selectors.api_keys_list(project=project),
        "can_manage_keys": role_can(membership.role, Action.MANAGE_KEYS),
        "form": form,
        "new_key": new_key,
        "new_public_key": new_public_key,
        "langfuse_base_url": settings.PEEKR_PUBLIC_URL,  # the Langfuse SDKs append /api/public/otel/v1/traces
        "base_url": f"{settings.PEEKR_PUBLIC_URL}/",  # configured, never the request's Host header
    }
    response = _page(request, "traces/keys.html", context, membership)
    if new_key:
        response["Cache-Control"] = "no-store"  # the only copy of the key: keep it out of every cache
    return response


@login_required
@require_POST
@requires(Action.MANAGE_KEYS)
def key_revoke(request: HttpRequest, project_id: int, key_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    key = selectors.api_key_get(project=membership.project, key_id=key_id)
    if key is None:
        raise Http404("No such key")
    api_key_revoke(key=key)
    audit_request(request, project=membership.project, action="key.revoke", target=key.name,
                  details={"display": key.display})  # fmt: skip
    messages.success(request, f"Key “{key.name}” ({key.display}…) revoked. Clients using it now get 401.")
    return redirect("traces:keys", project_id=project_id)
