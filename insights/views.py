"""The Insights tab (ranked insights, an insight's page, dismiss / fix) and the dashboards (Plotly charts, each
an htmx partial of its own).

Every view checks membership itself and answers 404, never 403, for a project the user is not in; changing an
insight's status takes an owner, admin or engineer (others get the same 404). htmx requests get the page's
partial.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from insights import charts, dashboard, selectors, services
from insights.models import Insight
from traces import selectors as trace_selectors
from traces.access import Action, membership_for, requires, role_can
from traces.models import Membership

INSIGHTS_SHOWN = 100
FINDINGS_SHOWN = 50
WINDOW_CHOICES = [("24h", "Last 24 h"), ("7d", "Last 7 days"), ("30d", "Last 30 days")]
STATUS_CHOICES = [
    ("active", "Open & regressed"),
    ("open", "Open"),
    ("regressed", "Regressed"),
    ("fixed", "Fixed"),
    ("dismissed", "Dismissed"),
    ("all", "Any status"),
]
RANGE_CHOICES = [("1h", "1 h"), ("24h", "24 h"), ("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days")]
WIDE_CHARTS = ("models", "prompts", "releases")  # a row each: one bar per group, three measures side by side
DASHBOARD_SECTIONS = [
    ("Traffic", ["traces", "latency", "error_rate", "tokens", "cost"]),
    ("Breakdowns", ["models", "prompts", "releases"]),
    ("Evaluations", ["eval_scores", "eval_pass_rate"]),
]


def _page(request: HttpRequest, template: str, context: dict, membership: Membership) -> HttpResponse:
    context.setdefault("nav_projects", trace_selectors.user_projects(user=request.user))
    context.update(
        membership=membership, project=membership.project, can_edit=role_can(membership.role, Action.MANAGE_RULES)
    )
    return render(request, template, context)


def _wants_partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


# --- The trace page's findings ---


@login_required
@require_GET
@vary_on_headers("HX-Request")
@requires(Action.VIEW_TRACES)
def trace_findings(request: HttpRequest, project_id: int, trace_id: str) -> HttpResponse:
    """A trace's findings: the block the trace page loads with htmx above its waterfall; without htmx, a page."""
    membership = membership_for(request, project_id)
    trace = trace_selectors.trace_get(project=membership.project, trace_id=trace_id)
    if trace is None:
        raise Http404("No such trace")
    context = {"trace": trace, "findings": selectors.trace_findings(trace=trace)}
    template = "insights/trace_findings.html" + ("#findings" if _wants_partial(request) else "")
    return _page(request, template, context, membership)


# --- The Insights tab ---


class InsightFilterForm(forms.Form):
    window = forms.ChoiceField(required=False, choices=WINDOW_CHOICES)
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    detector = forms.ChoiceField(required=False, choices=())
    service = forms.ChoiceField(required=False, choices=())
    q = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "Search"}))
    sort = forms.ChoiceField(required=False, choices=[("time", "Time saved"), ("money", "Money saved")])

    def __init__(self, *args, choices: dict[str, list[str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["detector"].choices = [("", "Any detector")] + [
            (d, d.replace("_", " ")) for d in choices["detectors"]
        ]
        self.fields["service"].choices = [("", "Any service")] + [(s, s) for s in choices["services"]]

    def to_filters(self) -> selectors.InsightFilters:
        self.is_valid()  # a bad value is left out of cleaned_data: ignored rather than failing the page
        data = self.cleaned_data
        return selectors.InsightFilters(
            window=data.get("window") or selectors.DEFAULT_WINDOW,
            status=data.get("status") or "active",
            detector=data.get("detector") or "",
            service=data.get("service") or "",
            search=(data.get("q") or "").strip(),
            sort=data.get("sort") or "time",
        )


@login_required
@require_GET
@vary_on_headers("HX-Request")
@requires(Action.VIEW_TRACES)
def insight_list(request: HttpRequest, project_id: int) -> HttpResponse:
    """Insights ranked by the time (or money) their fix would save per day, with filters."""
    membership = membership_for(request, project_id)
    project = membership.project
    # The defaults are data, not initial values, so the menus show what the list is filtered by.
    data = {"window": selectors.DEFAULT_WINDOW, "status": "active", "sort": "time", **request.GET.dict()}
    form = InsightFilterForm(data, choices=selectors.insight_filter_choices(project=project))
    filters = form.to_filters()
    page = selectors.insights_ranked(project=project, filters=filters, limit=INSIGHTS_SHOWN)
    context = {
        "form": form,
        "filters": filters,
        "page": page,
        "window_label": dict(WINDOW_CHOICES)[page.window].lower(),
        "any_insight": bool(page.total) or Insight.objects.filter(project=project, count__gt=0).exists(),
    }
    template = "insights/insight_list.html#results" if _wants_partial(request) else "insights/insight_list.html"
    return _page(request, template, context, membership)


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def insight_detail(request: HttpRequest, project_id: int, insight_id: int) -> HttpResponse:
    """One insight: its figures, latest message, fix, and the newest traces it was found in."""
    membership = membership_for(request, project_id)
    insight = selectors.insight_get(project=membership.project, insight_id=insight_id)
    if insight is None:
        raise Http404("No such insight")
    window = request.GET.get("window") or selectors.DEFAULT_WINDOW
    item = selectors.insight_ranked(insight=insight, window=window)
    context = {
        "item": item,
        "insight": insight,
        "window": window if window in selectors.WINDOWS else selectors.DEFAULT_WINDOW,
        "findings": selectors.insight_findings(insight=insight, limit=FINDINGS_SHOWN),
    }
    return _page(request, "insights/insight_detail.html", context, membership)


@login_required
@require_POST
@requires(Action.MANAGE_RULES)
def insight_status(request: HttpRequest, project_id: int, insight_id: int) -> HttpResponse:
    """Dismiss, mark fixed or reopen; htmx gets the insight's card back, a plain form its page."""
    membership = membership_for(request, project_id)
    insight = selectors.insight_get(project=membership.project, insight_id=insight_id)
    if insight is None:
        raise Http404("No such insight")
    try:
        insight = services.insight_set_status(insight=insight, status=request.POST.get("status", ""))
    except services.StatusInvalid as exc:
        return HttpResponse(str(exc), status=400)
    if not _wants_partial(request):
        return redirect("insights:insight_detail", project_id=project_id, insight_id=insight.pk)
    window = request.POST.get("window") or selectors.DEFAULT_WINDOW
    list_query = request.POST.get("list_query", "")
    context = {
        "item": selectors.insight_ranked(insight=insight, window=window),
        "rank": request.POST.get("rank", ""),
        "filters": selectors.InsightFilters(window=window),
        "list_query": list_query,
    }
    card = _page(request, "insights/insight_list.html#insight_card", context, membership)
    # The list's count, recomputed under the list's own filters and swapped out of band in the same response.
    total = _list_total(request, membership, QueryDict(list_query))
    return HttpResponse(card.content + total.content)


def _list_total(request: HttpRequest, membership: Membership, query: QueryDict) -> HttpResponse:
    project = membership.project
    data = {"window": selectors.DEFAULT_WINDOW, "status": "active", "sort": "time", **query.dict()}
    form = InsightFilterForm(data, choices=selectors.insight_filter_choices(project=project))
    page = selectors.insights_ranked(project=project, filters=form.to_filters(), limit=INSIGHTS_SHOWN)
    context = {"page": page, "window_label": dict(WINDOW_CHOICES)[page.window].lower(), "oob": True}
    return _page(request, "insights/insight_list.html#total", context, membership)


# --- Dashboards ---


DASHBOARD_PARAMS = ("range", "start", "end", "split", *dashboard.FILTER_PARAMS)


def _dashboard_query(params) -> QueryDict:
    """Only the Dashboards parameters that are set (a chart's URL, a preset's link)."""
    query = QueryDict(mutable=True)
    for key in DASHBOARD_PARAMS:
        if params.get(key):
            query[key] = params[key]
    return query


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def dashboards(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's charts over a preset or custom range, filtered like the trace list and split by release,
    model or environment; each chart loads as its own partial, and a click on a point opens its traces."""
    membership = membership_for(request, project_id)
    query = dashboard.parse(request.GET)
    range_key = query.time_range.key
    sections = [(title, [(name, charts.CHARTS[name].title) for name in names]) for title, names in DASHBOARD_SECTIONS]
    chart_query = _dashboard_query(request.GET)
    if not query.custom:
        chart_query.pop("start", None), chart_query.pop("end", None)
        chart_query["range"] = range_key
    presets = []
    for key, label in RANGE_CHOICES:
        q = _dashboard_query(request.GET)
        q.pop("start", None), q.pop("end", None)
        q["range"] = key
        presets.append((key, label, q.urlencode()))
    context = {
        "range": range_key,
        "ranges": RANGE_CHOICES,
        "presets": presets,
        "sections": sections,
        "wide_charts": WIDE_CHARTS,
        "query": query,
        "chart_query": chart_query.urlencode(),
        "custom_start": query.since.strftime("%Y-%m-%dT%H:%M"),
        "custom_end": query.until.strftime("%Y-%m-%dT%H:%M"),
        "filter_values": {k: request.GET.get(k, "") for k in dashboard.FILTER_PARAMS},
        "splits": dashboard.SPLITS,
    }
    return _page(request, "insights/dashboards.html", context, membership)


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def dashboard_chart(request: HttpRequest, project_id: int, name: str) -> HttpResponse:
    membership = membership_for(request, project_id)
    if name not in charts.CHARTS:
        raise Http404("No such chart")
    range_key = request.GET.get("range", "")
    chart = charts.render_chart(name, project=membership.project, range_key=range_key, params=request.GET)
    return _page(request, "insights/dashboards.html#chart", {"chart": chart}, membership)
