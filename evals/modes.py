"""Evaluator modes: shadow, advisory, blocking (what a rule's scores are used for), their changes and the gate.

- shadow: the rule scores live traffic and its scores are stored (Score.mode, copied when scored), shown apart
  on the trace page and in the API, and never route (annotations), fire a trigger, count in dashboards,
  monitors or gates. A rule created through the API or the UI starts here.
- advisory: dashboards, monitors, routing and triggers, as before modes existed; never a gate. Rules that
  existed before modes are advisory, except the built-in rule (deterministic checks only, which gated
  peekr_regress before): it is blocking, in existing projects (migration) and new ones.
- blocking: counts in the gates as well (peekr_regress, release verdicts: evals.selectors.blocking_evaluators).
  A rule evaluator (deterministic) may block at once; a judge (semantic) only once its calibration against
  human reviews allows it (>= 50 labelled items, >= 85 % agreement: annotations.calibration.gate_eligible).

Calibration is computed by annotations (above evals): it registers a provider in CALIBRATION_PROVIDERS from its
AppConfig.ready(), the same per-evaluator figures as its Calibration page. Every change of mode is a ModeChange
row with who, when, from, to and the evaluator's calibration at that moment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from evals.models import EvalRule, Mode, ModeChange, Score
from peekr_web.errors import Conflict, Invalid

# callables(project) -> {evaluator: {"n", "agreement", "gate_eligible", "status", ...}} (annotations' calibration)
CALIBRATION_PROVIDERS: list[Callable[[Any], dict[str, dict]]] = []

MODES = tuple(Mode.values)
SHADOW_WINDOW = timedelta(days=7)


class ModeInvalid(Invalid, ValueError):
    """An unknown mode or an evaluator the rule does not have (400)."""


class ModeRefused(Conflict):
    """A judge evaluator may not block yet: its calibration does not allow it (409, the reason in the message)."""


def is_judge(evaluator: str) -> bool:
    from evals.services import JUDGE_EVALUATORS

    return evaluator in JUDGE_EVALUATORS


def calibration_for(*, project) -> dict[str, dict]:
    """Per evaluator, its calibration against human reviews (empty without a provider or reviews)."""
    out: dict[str, dict] = {}
    for provider in CALIBRATION_PROVIDERS:
        out.update(provider(project))
    return out


def block_refusal(evaluator: str, calibration: dict[str, dict]) -> str:
    """Why this evaluator may not be blocking, or "" when it may: rule evaluators always may; a judge only
    when its calibration is gate-eligible."""
    if not is_judge(evaluator):
        return ""
    row = calibration.get(evaluator)
    if row is None:
        return f"{evaluator} is a judge with no calibration yet: it needs human-reviewed items to block"
    if row.get("gate_eligible"):
        return ""
    agreement = row.get("agreement")
    shown = "no agreement yet" if agreement is None else f"{agreement:.1%} agreement"
    return f"{evaluator} is not calibrated enough to block ({row.get('n', 0)} labelled items, {shown}): {row.get('status', '')}"


def modes_check(*, project, evaluators: list[str], mode: str, overrides: dict | None) -> dict[str, dict] | None:
    """Refuse unknown modes, overrides of evaluators the rule lacks (ModeInvalid) and an uncalibrated blocking
    judge (ModeRefused). Returns the calibration it read (None when no judge blocks: nothing was read)."""
    overrides = overrides or {}
    bad = [m for m in [mode, *overrides.values()] if m not in MODES]
    if bad:
        raise ModeInvalid(f"unknown mode(s): {', '.join(map(str, bad))}; known: {', '.join(MODES)}")
    strangers = [e for e in overrides if e not in evaluators]
    if strangers:
        raise ModeInvalid(f"the rule has no evaluator(s) {', '.join(strangers)}")
    blocking_judges = [e for e in evaluators if is_judge(e) and overrides.get(e, mode) == Mode.BLOCKING]
    if not blocking_judges:
        return None
    calibration = calibration_for(project=project)
    reasons = [r for r in (block_refusal(e, calibration) for e in blocking_judges) if r]
    if reasons:
        raise ModeRefused("; ".join(reasons))
    return calibration


def _figures(evaluator: str, calibration: dict[str, dict] | None) -> dict:
    row = (calibration or {}).get(evaluator) or {}
    return {"calibration_n": row.get("n"), "calibration_agreement": row.get("agreement")}


def rule_created_record(*, rule: EvalRule, calibration: dict | None, changed_by=None, actor: str = "") -> None:
    """The mode a rule was created with (from_mode empty), and each evaluator override it came with."""
    rows = [("", rule.mode)] + sorted((e, m) for e, m in (rule.evaluator_modes or {}).items())
    ModeChange.objects.bulk_create(
        [
            ModeChange(
                project_id=rule.project_id,
                rule=rule,
                rule_name=rule.name,
                evaluator=evaluator,
                from_mode="",
                to_mode=mode,
                changed_by=changed_by,
                actor=_actor(changed_by, actor),
                **_figures(evaluator, calibration),
            )
            for evaluator, mode in rows
        ]  # fmt: skip
    )


def _actor(user, actor: str) -> str:
    return (actor or (user.get_username() if user is not None else ""))[:200]


def rule_mode_set(
    *, rule: EvalRule, mode: str, evaluator: str = "", changed_by=None, actor: str = "", now: datetime | None = None
) -> ModeChange | None:
    """Set a rule's mode, or one evaluator's (``evaluator``); refused with the reason for an uncalibrated judge
    made blocking (ModeRefused, 409). Recorded as a ModeChange with the calibration at that moment; None when
    nothing changed. A rule's mode applies to its evaluators without an override of their own."""
    with transaction.atomic():
        rule = EvalRule.objects.select_for_update().get(pk=rule.pk)
        if evaluator and evaluator not in rule.evaluators:
            raise ModeInvalid(f"the rule has no evaluator {evaluator!r}; it has {', '.join(rule.evaluators)}")
        overrides = dict(rule.evaluator_modes or {})
        before = overrides.get(evaluator, rule.mode) if evaluator else rule.mode
        if evaluator:
            overrides[evaluator] = mode
        calibration = modes_check(
            project=rule.project, evaluators=rule.evaluators, mode=rule.mode if evaluator else mode, overrides=overrides
        )
        if before == mode and (not evaluator or evaluator in (rule.evaluator_modes or {})):
            return None
        if evaluator:
            rule.evaluator_modes = overrides
        else:
            rule.mode = mode
        rule.save(update_fields=["mode", "evaluator_modes", "updated_at"])
        if calibration is None and is_judge(evaluator or ""):
            calibration = calibration_for(project=rule.project)  # recorded for the audit even when not blocking
        figures = _figures(evaluator, calibration) if evaluator else {}
        return ModeChange.objects.create(
            project_id=rule.project_id, rule=rule, rule_name=rule.name, evaluator=evaluator, from_mode=before,
            to_mode=mode, changed_by=changed_by, actor=_actor(changed_by, actor),
            created_at=now or timezone.now(), **figures,
        )  # fmt: skip


# ---------------------------------------------------------------- reads for the rule's page and the API


def mode_changes(*, rule: EvalRule, limit: int = 50) -> list[ModeChange]:
    return list(
        ModeChange.objects.filter(rule=rule).select_related("changed_by").order_by("-created_at", "-pk")[:limit]
    )


def evaluator_modes_view(*, rule: EvalRule, calibration: dict[str, dict]) -> list[dict]:
    """Each evaluator of the rule: its mode, its calibration, and why it may not block (the button's reason)."""
    out = []
    for name in rule.evaluators:
        row = calibration.get(name) or {}
        out.append(
            {
                "evaluator": name,
                "kind": "semantic" if is_judge(name) else "deterministic",
                "mode": rule.mode_of(name),
                "overridden": name in (rule.evaluator_modes or {}),
                "n": row.get("n", 0),
                "agreement": row.get("agreement"),
                "calibration_status": row.get("status", ""),
                "block_refusal": block_refusal(name, calibration),
            }
        )
    return out


def shadow_flagged(*, rule: EvalRule, now: datetime | None = None, examples: int = 5) -> dict:
    """What a rule's shadow scores would have flagged over the last 7 days: the traces with a failed shadow score
    (count, and the newest few with their ids), per evaluator."""
    since = (now or timezone.now()) - SHADOW_WINDOW
    failed = Score.objects.filter(
        rule=rule, mode=Mode.SHADOW, status=Score.Status.DONE, passed=False, created_at__gte=since
    )
    by_evaluator = dict(failed.values_list("evaluator").annotate(n=Count("trace_id", distinct=True)).order_by())
    latest = failed.values("trace_id", "trace__trace_id", "trace__name", "evaluator").order_by("-created_at", "-pk")[
        : examples * 4
    ]
    seen, traces = set(), []
    for row in latest:
        if row["trace_id"] in seen:
            continue
        seen.add(row["trace_id"])
        traces.append({"trace_id": row["trace__trace_id"], "name": row["trace__name"], "evaluator": row["evaluator"]})
        if len(traces) == examples:
            break
    return {
        "traces": failed.values("trace_id").distinct().count(),
        "by_evaluator": by_evaluator,
        "examples": traces,
        "since": since,
    }
