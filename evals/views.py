"""The Evaluations pages: the project's rules with their executions and judge cost, a rule's page (its form,
pass rates and latest scores) and the dead letters (judge evaluations that failed for good), with retry.

Owners, admins and engineers change rules and retry evaluations; reviewers and viewers read. Every view
checks membership itself and answers 404, never 403, so neither projects nor rules can be probed; a POST
by a read-only member is a 404 too.
"""

from __future__ import annotations

import math
from datetime import UTC as dt_timezone
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from evals import backfill, connections, judging, modes, projection, selectors, services
from evals.cost import Projection, arithmetic, count, usd
from evals.forms import EvalRuleForm, JudgeConnectionForm
from evals.lag_chart import lag_chart
from evals.models import Backfill, EvalRule
from peekr_web.errors import sentence
from traces import selectors as trace_selectors
from traces.access import Action, membership_for, requires, role_can
from traces.audit import audit_request
from traces.models import Membership

DEAD_LETTERS_SHOWN = 200
RETRY_ALL_LIMIT = 500  # one click re-queues at most this many judge calls: retrying costs money


# --- Access ---


def _rule(membership: Membership, rule_id: int) -> EvalRule:
    rule = EvalRule.objects.filter(project=membership.project, pk=rule_id).first()
    if rule is None:
        raise Http404("No such rule")
    return rule


def _page(request: HttpRequest, template: str, context: dict, membership: Membership) -> HttpResponse:
    context.setdefault("nav_projects", trace_selectors.user_projects(user=request.user))
    context.update(
        membership=membership,
        project=membership.project,
        can_edit=role_can(membership.role, Action.MANAGE_RULES),
        judge_names=services.JUDGE_EVALUATORS,
    )
    return render(request, template, context)


# --- Formatting the projection: "at 10% of 100k/day this rule costs about $3,000/month" ---


def _trim(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    text = f"{value:.1f}" if value >= 10 else f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def compact_count(n: float) -> str:
    """100000 -> "100k", 1234 -> "1.23k", 2500000 -> "2.5M", 0.43 -> "0.43"."""
    if n >= 1_000_000:
        return _trim(n / 1_000_000) + "M"
    if n >= 1_000:
        return _trim(n / 1_000) + "k"
    return _trim(n)


def about_usd(amount: float) -> str:
    """Dollars to two significant digits: 3012.4 -> "$3,000", 12.3 -> "$12", 0.00421 -> "$0.0042"."""
    if amount <= 0:
        return "$0"
    digits = 1 - math.floor(math.log10(amount))
    rounded = round(amount, digits)
    return f"${rounded:,.{max(digits, 0)}f}"


def percent(rate: float) -> str:
    return f"{round(rate * 100, 2):g}%"


def projection_text(rule: EvalRule, p: Projection | None) -> str:
    """The rule page's projection (evals.projection) as one line of the list; why not, when there is none."""
    if p is None or not services.rule_uses_judge(rule):
        return ""
    if p.monthly is None:
        return "; ".join(p.notes) or "no projection yet"
    return (
        f"at {percent(rule.sample_rate)} of {compact_count(p.traces_per_day)}/day "
        f"this rule costs about {about_usd(p.monthly)}/month"
    )


def filter_summary(rule: EvalRule) -> str:
    f = rule.filter or {}
    parts = [f"{key} {f[key]}" for key in ("kind", "name", "model", "service") if f.get(key)]
    if f.get("tags"):
        parts.append("tags " + ", ".join(str(t) for t in f["tags"]))
    return " · ".join(parts)


def _rule_row(rule: EvalRule) -> dict:
    p = projection.rule_projection(rule=rule) if services.rule_uses_judge(rule) else None
    return {
        "rule": rule,
        "stats": selectors.rule_execution_stats(rule=rule),
        "projection": p,
        "projection_text": projection_text(rule, p),
        "uses_judge": services.rule_uses_judge(rule),
        "judge_missing": services.rule_judge_missing(rule),
        "filter_summary": filter_summary(rule),
        "sample": percent(rule.sample_rate),
    }


# --- Pages ---


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def rule_list(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    # A handful of rules per project: each row's counts are two aggregates; a judge rule's projection samples the
    # last 7 days' traffic as the rule page does (evals.projection), so the two pages give the same figure.
    rows = [_rule_row(rule) for rule in services.rules_for_project(project=membership.project)]
    context = {
        "rows": rows,
        "judge_missing": next((r["judge_missing"] for r in rows if r["judge_missing"]), ""),
        "judge_missing_rules": [r["rule"].name for r in rows if r["judge_missing"]],
        "paused": [r["rule"] for r in rows if r["rule"].status == EvalRule.Status.PAUSED],
        "dead_letter_count": judging.dead_letters(project=membership.project).count(),
        "lag_chart": lag_chart(),  # the whole instance's evaluation backlog: one pipeline serves every project
    }
    return _page(request, "evals/rule_list.html", context, membership)


def _name_taken(project, name: str, rule: EvalRule | None = None) -> bool:
    others = EvalRule.objects.filter(project=project, name=name)
    if rule is not None:
        others = others.exclude(pk=rule.pk)
    return others.exists()


@login_required
@require_http_methods(["GET", "POST"])
@requires(Action.MANAGE_RULES)
def rule_create(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    project = membership.project
    form = EvalRuleForm(request.POST or None, connections=connections.judge_connections(project=project))
    if request.method == "POST" and form.is_valid():
        try:
            rule = services.eval_rule_create(project=project, changed_by=request.user, **form.rule_fields())
        except services.RuleInvalid as exc:
            form.add_error(None, sentence(exc))
        else:
            audit_request(request, project=project, action="rule.create", target=rule.name)
            messages.success(request, f"Rule “{rule.name}” created.")
            return redirect("evals:rule_detail", project_id=project.pk, rule_id=rule.pk)
    return _page(request, "evals/rule_detail.html", {"rule": None, "form": form, "preview_rule_id": ""}, membership)


# --- Projected cost, before saving: the form posts its fields here as they change (htmx) ---

FORM_DEFAULTS = {
    "name": "", "target": EvalRule.Target.SPAN, "filter_kind": "", "filter_name": "", "filter_model": "",
    "filter_service": "", "filter_tags": "", "evaluators": [], "sample_rate": 100.0, "triggers": [],
    "judge_model": "", "judge_connection": None, "daily_cost_cap": None, "rubric_criteria": "", "rubric_min": 1,
    "rubric_max": 5, "rubric_pass_threshold": None, "allowed_tools": "", "max_turns": None,
}  # fmt: skip


def preview_rule(project, data, rule: EvalRule | None) -> EvalRule:
    """The unsaved rule the form describes so far; a field that does not validate yet keeps its default."""
    form = EvalRuleForm(data, connections=connections.judge_connections(project=project))
    form.is_valid()
    form.cleaned_data = {**FORM_DEFAULTS, **{k: v for k, v in form.cleaned_data.items() if v is not None}}
    fields = form.rule_fields(config=rule.config if rule else None)
    conn_id = fields.pop("judge_connection_id")
    preview = EvalRule(project=project, pk=rule.pk if rule else None, **fields)
    if conn_id and project.judge_connections.filter(pk=conn_id).exists():
        preview.judge_connection_id = conn_id
    return preview


def _cost_context(rule: EvalRule) -> dict:
    p = projection.rule_projection(rule=rule)
    spent = projection.cost_to_date(rule=rule) if rule.pk else 0.0
    return {
        "cost": p,
        "cost_arithmetic": arithmetic(p),
        "cost_monthly": usd(p.monthly),
        "cost_spent": usd(spent) if spent else "$0",
        "cost_traces_per_day": count(p.traces_per_day),
        "cost_judgements_per_day": count(p.judgements_per_day),
        "cost_per_judgement": usd(p.cost_per_judgement),
        "cost_share": percent(p.selected_share),
        "cost_sample": percent(rule.sample_rate),
        "cost_model": connections.rule_judge(rule).model,
    }


@login_required
@require_POST
@requires(Action.MANAGE_RULES)
def rule_cost_preview(request: HttpRequest, project_id: int) -> HttpResponse:
    """The projected monthly cost of the rule as the form stands (not saved): an htmx partial."""
    membership = membership_for(request, project_id)
    rule_id = request.POST.get("preview_rule_id", "")
    rule = _rule(membership, int(rule_id)) if rule_id.isdigit() else None
    preview = preview_rule(membership.project, request.POST, rule)
    return _page(request, "evals/rule_detail.html#cost_preview", _cost_context(preview), membership)


@login_required
@require_http_methods(["GET", "POST"])
@requires(Action.VIEW_TRACES, post=Action.MANAGE_RULES)
def rule_detail(request: HttpRequest, project_id: int, rule_id: int) -> HttpResponse:
    """A rule's page: its settings (a form for editors), per-evaluator pass rates and its latest scores."""
    membership = membership_for(request, project_id)
    rule = _rule(membership, rule_id)
    form = None
    if request.method == "POST":
        membership = membership_for(request, project_id)
        form = EvalRuleForm(request.POST, connections=connections.judge_connections(project=membership.project))
        if form.is_valid():
            fields = form.rule_fields(config=rule.config)
            if _name_taken(membership.project, fields["name"], rule):
                form.add_error("name", "Another rule has this name.")
            else:
                try:
                    services.eval_rule_update(rule=rule, **fields)
                except services.RuleInvalid as exc:
                    form.add_error(None, sentence(exc))
                    rule = _rule(membership, rule_id)  # the failed update changed the instance, not the row
                else:
                    audit_request(request, project=membership.project, action="rule.update", target=rule.name)
                    messages.success(request, f"Rule “{rule.name}” saved.")
                    return redirect("evals:rule_detail", project_id=project_id, rule_id=rule.pk)
    elif role_can(membership.role, Action.MANAGE_RULES):
        form = EvalRuleForm.for_rule(rule, connections=connections.judge_connections(project=membership.project))
    context = {
        "rule": rule,
        "form": form,
        **_rule_row(rule),
        **_cost_context(rule),
        "pass_rates": [
            {**row, "rate": row["passed"] / row["n"] if row["n"] else None}
            for row in selectors.evaluator_pass_rates(rule=rule)
        ],
        "scores": selectors.rule_latest_scores(rule=rule, limit=50),
        **_modes_context(rule),
        **_backfill_context(rule),
    }
    return _page(request, "evals/rule_detail.html", context, membership)


def _modes_context(rule: EvalRule) -> dict:
    """The rule's modes with the calibration each judge is held to, its recorded changes and, while any of its
    evaluators is in shadow, what it would have flagged in the last 7 days."""
    calibration = modes.calibration_for(project=rule.project)
    rows = modes.evaluator_modes_view(rule=rule, calibration=calibration)
    in_shadow = any(r["mode"] == "shadow" for r in rows)
    return {
        "mode_rows": rows,
        "modes": modes.MODES,
        "rule_block_refusal": "; ".join(r["block_refusal"] for r in rows if r["block_refusal"] and not r["overridden"]),
        "mode_changes": modes.mode_changes(rule=rule, limit=20),
        "shadow": modes.shadow_flagged(rule=rule) if in_shadow else None,
    }


@login_required
@require_POST
@requires(Action.MANAGE_RULES)
def rule_mode(request: HttpRequest, project_id: int, rule_id: int) -> HttpResponse:
    """Change the rule's mode, or one evaluator's (editors). A judge made blocking before its calibration
    allows it is refused with the reason; the page also shows it next to the disabled button."""
    membership = membership_for(request, project_id)
    rule = _rule(membership, rule_id)
    evaluator, mode = request.POST.get("evaluator", ""), request.POST.get("mode", "")
    try:
        change = modes.rule_mode_set(rule=rule, mode=mode, evaluator=evaluator, changed_by=request.user)
    except (modes.ModeInvalid, modes.ModeRefused) as exc:
        messages.error(request, sentence(exc))
    else:
        if change is not None:
            what = f"{evaluator} in “{rule.name}”" if evaluator else f"Rule “{rule.name}”"
            messages.success(request, f"{what} is now {mode}.")
    return redirect("evals:rule_detail", project_id=project_id, rule_id=rule.pk)


@login_required
@require_POST
@requires(Action.MANAGE_RULES)
def rule_pause(request: HttpRequest, project_id: int, rule_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    rule = _rule(membership, rule_id)
    services.eval_rule_pause(rule=rule, reason=f"paused by {request.user.get_username()}")
    audit_request(request, project=membership.project, action="rule.pause", target=rule.name)
    messages.success(request, f"Rule “{rule.name}” paused: it evaluates nothing until resumed.")
    return _back(request, project_id)


@login_required
@require_POST
@requires(Action.MANAGE_RULES)
def rule_resume(request: HttpRequest, project_id: int, rule_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    rule = _rule(membership, rule_id)
    try:
        services.eval_rule_update(rule=rule, status=EvalRule.Status.ACTIVE)
    except services.RuleInvalid as exc:
        messages.error(request, f"Rule “{rule.name}” stays paused: {exc}")
    else:
        audit_request(request, project=membership.project, action="rule.resume", target=rule.name)
        messages.success(request, f"Rule “{rule.name}” resumed.")
    return _back(request, project_id)


@login_required
@require_POST
@requires(Action.MANAGE_RULES)
def rule_delete(request: HttpRequest, project_id: int, rule_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    rule = _rule(membership, rule_id)
    if rule.is_builtin:
        # rules_for_project would only create it again: pausing is how it is turned off.
        messages.error(request, "The built-in rule can be paused, not deleted.")
        return redirect("evals:rule_detail", project_id=project_id, rule_id=rule.pk)
    name = rule.name
    rule.delete()  # its scores stay, without a rule
    audit_request(request, project=membership.project, action="rule.delete", target=name)
    messages.success(request, f"Rule “{name}” deleted. Its scores are kept.")
    return redirect("evals:rule_list", project_id=project_id)


def _back(request: HttpRequest, project_id: int) -> HttpResponse:
    """Back to the page the button was on (the list or the rule's page), never to another site."""
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("evals:rule_list", project_id=project_id)


# --- Dead letters ---


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def dead_letters(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    letters = judging.dead_letters(project=membership.project)
    context = {
        "letters": list(letters.select_related("trace", "span", "rule")[:DEAD_LETTERS_SHOWN]),
        "total": letters.count(),
        "shown_limit": DEAD_LETTERS_SHOWN,
        "retry_limit": RETRY_ALL_LIMIT,
    }
    return _page(request, "evals/dead_letters.html", context, membership)


@login_required
@require_POST
@requires(Action.MANAGE_RULES)
def dead_letter_retry(request: HttpRequest, project_id: int, score_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    score = judging.dead_letters(project=membership.project).filter(pk=score_id).first()
    if score is None:
        raise Http404("No such failed evaluation")
    judging.score_retry(score=score)
    messages.success(request, f"{score.evaluator} queued again.")
    return redirect("evals:dead_letters", project_id=project_id)


@login_required
@require_POST
@requires(Action.MANAGE_RULES)
def dead_letter_retry_all(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    letters = list(judging.dead_letters(project=membership.project).only("pk")[:RETRY_ALL_LIMIT])
    for score in letters:
        judging.score_retry(score=score)
    left = judging.dead_letters(project=membership.project).count()
    note = f" {left} more are left: retry again once these are done." if left else ""
    messages.success(request, f"{len(letters)} failed evaluation(s) queued again.{note}")
    return redirect("evals:dead_letters", project_id=project_id)


# --- Judge connections: a project's own judge endpoints, each with its own key ---


@login_required
@require_http_methods(["GET", "POST"])
@requires(Action.VIEW_TRACES, post=Action.MANAGE_KEYS)
def judge_connections(request: HttpRequest, project_id: int) -> HttpResponse:
    """Everyone in the project sees the connections (never a key); owners and admins register them."""
    membership = membership_for(request, project_id)
    form = JudgeConnectionForm(request.POST or None)
    if request.method == "POST":
        membership = membership_for(request, project_id)
        if form.is_valid():
            try:
                conn = connections.judge_connection_create(
                    project=membership.project, user=request.user, **form.cleaned_data
                )
            except connections.JudgeConnectionInvalid as exc:
                form.add_error(None, sentence(exc))
            else:
                messages.success(request, f"Judge connection “{conn.name}” saved. Its key will not be shown again.")
                return redirect("evals:judge_connections", project_id=project_id)
    context = {
        "connections": connections.judge_connections(project=membership.project),
        "form": form,
        "can_manage": role_can(membership.role, Action.MANAGE_KEYS),
    }
    return _page(request, "evals/judge_connections.html", context, membership)


@login_required
@require_POST
@requires(Action.MANAGE_KEYS)
def judge_connection_delete(request: HttpRequest, project_id: int, connection_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    conn = membership.project.judge_connections.filter(pk=connection_id).first()
    if conn is None:
        raise Http404("No such judge connection")
    try:
        connections.judge_connection_delete(connection=conn)
    except connections.JudgeConnectionInvalid as exc:
        messages.error(request, sentence(exc))
    else:
        messages.success(request, f"Judge connection “{conn.name}” removed.")
    return redirect("evals:judge_connections", project_id=project_id)


# --- Backfill: run a rule on existing traces (evals.backfill), with a progress bar and a cancel button ---

BACKFILL_FILTERS = ("name", "status", "model", "service")  # TraceFilters fields offered on the form


def viewer_zone(name: str):
    """The browser's IANA time zone as its script reports it (a hidden ``tz`` field); UTC without one."""
    try:
        return ZoneInfo(name) if name else dt_timezone
    except (ZoneInfoNotFoundError, ValueError):
        return dt_timezone


class BackfillForm(forms.Form):
    """The range is typed in the viewer's time zone (static/js/peekr.js fills ``tz``); without scripts, in UTC."""

    start = forms.DateTimeField(label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    end = forms.DateTimeField(label="To", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    name = forms.CharField(required=False, max_length=200, label="Trace name contains")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), ("ok", "ok"), ("error", "error")])
    model = forms.CharField(required=False, max_length=200, label="Model")
    service = forms.CharField(required=False, max_length=200, label="Service")
    tz = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput(attrs={"data-viewer-tz": ""}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:  # initial values are UTC: the script shows them in the viewer's zone
            for key in ("start", "end"):
                self.fields[key].widget.attrs["data-utc-initial"] = ""

    def clean(self):
        data = super().clean()
        zone = viewer_zone(data.get("tz") or "")
        for key in ("start", "end"):
            if data.get(key) is not None:  # the wall-clock time typed, in the viewer's zone (the field read UTC)
                typed = timezone.make_naive(data[key], dt_timezone) if timezone.is_aware(data[key]) else data[key]
                data[key] = timezone.make_aware(typed, zone)
        return data


def _backfill_context(rule: EvalRule, form: BackfillForm | None = None) -> dict:
    now = timezone.now().replace(second=0, microsecond=0)
    initial = {"start": (now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"), "end": now.strftime("%Y-%m-%dT%H:%M")}
    return {"backfill_form": form or BackfillForm(initial=initial), "backfills": backfill.rule_backfills(rule=rule)}


def _job(membership: Membership, backfill_id: int) -> Backfill:
    job = Backfill.objects.select_related("rule").filter(project=membership.project, pk=backfill_id).first()
    if job is None:
        raise Http404("No such backfill")
    return job


@login_required
@require_POST
@requires(Action.MANAGE_RULES)
def backfill_create(request: HttpRequest, project_id: int, rule_id: int) -> HttpResponse:
    """Start a run of the rule on the completed traces of a range that match the filter (the worker does it)."""
    membership = membership_for(request, project_id)
    rule = _rule(membership, rule_id)
    form = BackfillForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            job = backfill.backfill_start(
                rule=rule, start=data["start"], end=data["end"], user=request.user,
                filters={k: data[k] for k in BACKFILL_FILTERS if data.get(k)},
            )  # fmt: skip
        except backfill.BackfillInvalid as exc:
            messages.error(request, sentence(exc))
        else:
            audit_request(request, project=membership.project, action="rule.backfill", target=rule.name)
            messages.success(request, f"Running “{rule.name}” on {job.total} existing trace(s).")
    else:
        messages.error(request, "The backfill needs a valid range: " + "; ".join(
            f"{k}: {' '.join(v)}" for k, v in form.errors.items()))  # fmt: skip
    return redirect(reverse("evals:rule_detail", args=[project_id, rule.pk]) + "#backfill")


@login_required
@require_GET
@requires(Action.VIEW_TRACES)
def backfill_progress(request: HttpRequest, project_id: int, backfill_id: int) -> HttpResponse:
    """One backfill's progress row (polled by htmx while it runs)."""
    membership = membership_for(request, project_id)
    return _page(request, "evals/rule_detail.html#backfill_row", {"job": _job(membership, backfill_id)}, membership)


@login_required
@require_POST
@requires(Action.MANAGE_RULES)
def backfill_cancel(request: HttpRequest, project_id: int, backfill_id: int) -> HttpResponse:
    membership = membership_for(request, project_id)
    job = _job(membership, backfill_id)
    backfill.backfill_cancel(job=job)
    if request.htmx:
        return _page(request, "evals/rule_detail.html#backfill_row", {"job": _job(membership, job.pk)}, membership)
    return redirect(reverse("evals:rule_detail", args=[project_id, job.rule_id]) + "#backfill")
