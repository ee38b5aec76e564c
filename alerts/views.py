"""HTML pages of alerts: Monitors (list, create, enable / disable, a monitor's chart), Alerts (open first,
acknowledge / resolve with htmx, history) and Channels (create, send a test alert, the delivery log).

Every view checks membership itself and answers 404 for a project the user is not in; viewers and reviewers
read, owners, admins and engineers change things (others get the same 404 on a write).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from alerts import charts, selectors, services, verdict
from alerts import monitors as monitor_services
from alerts.models import Channel, Monitor
from metrics import selectors as metric_selectors
from metrics.models import DIMENSIONS
from traces import selectors as trace_selectors
from traces.access import Action, membership_for, requires, role_can
from traces.audit import audit_request
from traces.models import Membership

ALERT_STATES = [("open", "Open"), ("resolved", "Resolved"), ("all", "All")]


def _page(request: HttpRequest, template: str, context: dict, membership: Membership, status: int = 200):
    context.setdefault("nav_projects", trace_selectors.user_projects(user=request.user))
    context.update(
        membership=membership, project=membership.project, can_edit=role_can(membership.role, Action.MANAGE_MONITORS)
    )
    return render(request, template, context, status=status)


def _wants_partial(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


# --- Monitors ---


class MonitorForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=Monitor.Kind.choices, initial=Monitor.Kind.METRIC)
    metric = forms.CharField(max_length=120, required=False, help_text="e.g. score:faithfulness, latency_p95_ms")
    filter_dim = forms.ChoiceField(
        required=False, choices=[("", "whole project")] + [(d, d) for d in DIMENSIONS if d != "all"]
    )
    filter_value = forms.CharField(max_length=200, required=False)
    direction = forms.ChoiceField(
        required=False, choices=[("", "from the metric"), ("down", "a drop is bad"), ("up", "a rise is bad")]
    )
    runbook_url = forms.CharField(max_length=2000, required=False)
    review_sigma = forms.FloatField(initial=verdict.REVIEW_SIGMA)
    page_sigma = forms.FloatField(initial=verdict.PAGE_SIGMA)
    sustain_count = forms.IntegerField(initial=verdict.SUSTAIN_COUNT)
    min_sample = forms.IntegerField(initial=verdict.MIN_SAMPLE)
    factor = forms.FloatField(initial=verdict.USER_COST_FACTOR)
    channels = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    owners = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channels"].choices = [(str(c.pk), c.name) for c in selectors.channels(project=project)]
        members = Membership.objects.filter(project=project).select_related("user").order_by("user__username")
        self.fields["owners"].choices = [(m.user.username, m.user.username) for m in members]

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "name": d["name"],
            "kind": d["kind"],
            "metric": d["metric"].strip(),
            "filter": {d["filter_dim"]: d["filter_value"]} if d["filter_dim"] else {},
            "direction": d["direction"] or None,
            "runbook_url": d["runbook_url"],
            "review_sigma": d["review_sigma"],
            "page_sigma": d["page_sigma"],
            "sustain_count": d["sustain_count"],
            "min_sample": d["min_sample"],
            "factor": d["factor"],
            "channels": [int(c) for c in d["channels"]],
            "owners": d["owners"],
        }


@login_required
@require_http_methods(["GET", "POST"])
@requires(Action.VIEW_TRACES, post=Action.MANAGE_MONITORS)
def monitor_list(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's monitors with their state; editors create one with the form below the list."""
    membership = membership_for(request, project_id)
    project = membership.project
    form = MonitorForm(request.POST or None, project=project)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                monitor = monitor_services.monitor_create(project=project, **form.service_kwargs())
            except monitor_services.MonitorInvalid as exc:
                form.add_error(None, str(exc))
            else:
                audit_request(request, project=project, action="monitor.create", target=monitor.name)
                return redirect("alerts:monitor_detail", project_id=project.pk, monitor_id=monitor.pk)
        status = 400
    context = {
        "monitors": selectors.monitors(project=project),
        "form": form,
        "metric_choices": metric_selectors.metric_choices(project),
    }
    return _page(request, "alerts/monitor_list.html", context, membership, status=status)


@login_required
@require_POST
@requires(Action.MANAGE_MONITORS)
def monitor_toggle(request: HttpRequest, project_id: int, monitor_id: int) -> HttpResponse:
    """Enable or disable a monitor; htmx gets its row back."""
    membership = membership_for(request, project_id)
    monitor = selectors.monitor_get(project=membership.project, monitor_id=monitor_id)
    if monitor is None:
        raise Http404("No such monitor")
    monitor_services.monitor_update(monitor=monitor, enabled=request.POST.get("enabled") == "1")
    audit_request(request, project=membership.project, action="monitor.update", target=monitor.name,
                  details={"enabled": monitor.enabled})  # fmt: skip
    if not _wants_partial(request):
        return redirect("alerts:monitor_list", project_id=project_id)
    return _page(request, "alerts/monitor_list.html#monitor_row", {"m": monitor}, membership)


@login_required
@require_POST
@requires(Action.MANAGE_MONITORS)
def monitor_delete(request: HttpRequest, project_id: int, monitor_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    monitor = selectors.monitor_get(project=membership.project, monitor_id=monitor_id)
    if monitor is None:
        raise Http404("No such monitor")
    monitor_services.monitor_delete(monitor=monitor)
    audit_request(request, project=membership.project, action="monitor.delete", target=monitor.name)
    return redirect("alerts:monitor_list", project_id=project_id)


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def monitor_detail(request: HttpRequest, project_id: int, monitor_id: int) -> HttpResponse:
    """A monitor: thresholds, state, its chart (loaded as a partial) and its alerts."""
    membership = membership_for(request, project_id)
    monitor = selectors.monitor_get(project=membership.project, monitor_id=monitor_id)
    if monitor is None:
        raise Http404("No such monitor")
    context = {
        "monitor": monitor,
        "alerts": selectors.alerts(project=membership.project, monitor_id=monitor.pk, limit=20),
    }
    return _page(request, "alerts/monitor_detail.html", context, membership)


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def monitor_chart(request: HttpRequest, project_id: int, monitor_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    monitor = selectors.monitor_get(project=membership.project, monitor_id=monitor_id)
    if monitor is None:
        raise Http404("No such monitor")
    html, empty = charts.monitor_chart(monitor=monitor)
    return _page(request, "alerts/monitor_detail.html#chart", {"chart_html": html, "chart_empty": empty}, membership)


# --- Alerts ---


@login_required
@require_GET
@vary_on_headers("HX-Request")
@requires(Action.VIEW_TRACES)
def alert_list(request: HttpRequest, project_id: int) -> HttpResponse:
    """Open alerts first, then resolved ones; each with its payload and history."""
    membership = membership_for(request, project_id)
    state = request.GET.get("state", "all")
    state = state if state in dict(ALERT_STATES) else "all"
    context = {
        "alerts": selectors.alerts(project=membership.project, state=state, limit=100),
        "state": state,
        "states": ALERT_STATES,
    }
    return _page(request, "alerts/alert_list.html", context, membership)


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def alert_detail(request: HttpRequest, project_id: int, alert_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    alert = selectors.alert_get(project=membership.project, alert_id=alert_id)
    if alert is None:
        raise Http404("No such alert")
    return _page(request, "alerts/alert_detail.html", {"alert": alert}, membership)


@login_required
@require_POST
@requires(Action.MANAGE_MONITORS)
def alert_action(request: HttpRequest, project_id: int, alert_id: int) -> HttpResponse:
    """Acknowledge or resolve; htmx gets the alert's card back, a plain form the alert's page."""
    membership = membership_for(request, project_id)
    alert = selectors.alert_get(project=membership.project, alert_id=alert_id)
    if alert is None:
        raise Http404("No such alert")
    action = request.POST.get("action")
    try:
        if action == "acknowledge":
            services.alert_acknowledge(alert=alert, user=request.user)
        elif action == "resolve":
            services.alert_resolve(alert=alert, user=request.user, note="resolved by hand")
        else:
            return HttpResponse("action must be acknowledge or resolve", status=400)
    except services.AlertInvalid as exc:
        return HttpResponse(str(exc), status=400)
    if not _wants_partial(request):
        return redirect("alerts:alert_detail", project_id=project_id, alert_id=alert_id)
    alert = selectors.alert_get(project=membership.project, alert_id=alert_id)
    return _page(request, "alerts/alert_list.html#alert_card", {"alert": alert}, membership)


# --- Channels ---


class ChannelForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=Channel.Kind.choices)
    url = forms.CharField(max_length=2000, required=False, help_text="webhook and Slack")
    emails = forms.CharField(max_length=2000, required=False, help_text="email: addresses, comma-separated")


@login_required
@require_http_methods(["GET", "POST"])
@requires(Action.VIEW_TRACES, post=Action.MANAGE_MONITORS)
def channel_list(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's channels, a form to add one, a test button each, and the newest deliveries."""
    membership = membership_for(request, project_id)
    project = membership.project
    form = ChannelForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                monitor_services.channel_create(
                    project=project, name=d["name"], kind=d["kind"], url=d["url"], emails=d["emails"] or None
                )
            except monitor_services.MonitorInvalid as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("alerts:channel_list", project_id=project.pk)
        status = 400
    context = {
        "channels": selectors.channels(project=project),
        "deliveries": selectors.deliveries(project=project),
        "form": form,
    }
    return _page(request, "alerts/channel_list.html", context, membership, status=status)


@login_required
@require_POST
@requires(Action.MANAGE_MONITORS)
def channel_test(request: HttpRequest, project_id: int, channel_id: int) -> HttpResponse:
    """Send a test alert; htmx gets a note in place of the button's status."""
    membership = membership_for(request, project_id)
    channel = selectors.channel_get(project=membership.project, channel_id=channel_id)
    if channel is None:
        raise Http404("No such channel")
    delivery = services.channel_test(channel=channel)
    if not _wants_partial(request):
        return redirect("alerts:channel_list", project_id=project_id)
    return _page(request, "alerts/channel_list.html#test_sent", {"delivery": delivery, "channel": channel}, membership)


@login_required
@require_POST
@requires(Action.MANAGE_MONITORS)
def channel_delete(request: HttpRequest, project_id: int, channel_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    channel = selectors.channel_get(project=membership.project, channel_id=channel_id)
    if channel is None:
        raise Http404("No such channel")
    monitor_services.channel_delete(channel=channel)
    return redirect("alerts:channel_list", project_id=project_id)
