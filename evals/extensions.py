"""What evals adds to the trace explorer and the receivers, through traces.extensions (registered in ready()).

- a score badge on each evaluated span's waterfall row, read from the span's own eval_scores (no query);
- the trace list's Scores column (counts in the list's one query) and its score filters (a subquery);
- ?evaluate=sync on the receivers.
"""

from __future__ import annotations

from django import forms

from evals.judging import trace_evaluate_sync
from evals.selectors import scores_for_traces, trace_pks_matching_scores, trace_score_annotations, trace_score_sort
from evals.services import evaluator_names
from traces import extensions
from traces.extensions import Badge, TraceListColumn, TraceListFilter


def score_summary(eval_scores: list | None) -> dict | None:
    """A waterfall row's evaluation badge (state fail/error/pass/pending, label, title); None when nothing ran.
    Shadow scores are left out (shadow_summary badges them apart)."""
    rows = [
        s for s in eval_scores or []
        if isinstance(s, dict) and s.get("status") != "skipped" and s.get("mode") != "shadow"
    ]  # fmt: skip
    if not rows:
        return None
    failed = [s.get("evaluator", "") for s in rows if s.get("status") == "done" and s.get("passed") is False]
    errors = [s.get("evaluator", "") for s in rows if s.get("status") == "error"]
    done = sum(1 for s in rows if s.get("status") == "done")
    if failed:
        state, label = "fail", f"✗ {len(failed)}"
    elif errors:
        state, label = "error", f"! {len(errors)}"
    elif done:
        state, label = "pass", f"✓ {done}"
    else:
        state, label = "pending", "…"
    title = f"{len(rows)} evaluation{'s' if len(rows) != 1 else ''}"
    if failed or errors:
        title += "; not passed: " + ", ".join(failed + errors)
    return {"state": state, "label": label, "title": title}


def shadow_summary(eval_scores: list | None) -> dict | None:
    """The separate badge of a row's shadow scores: how many failed (or ran), never counted with the others."""
    rows = [
        s for s in eval_scores or [] if isinstance(s, dict) and s.get("mode") == "shadow" and s.get("status") == "done"
    ]
    if not rows:
        return None
    failed = [s.get("evaluator", "") for s in rows if s.get("passed") is False]
    label = f"shadow ✗ {len(failed)}" if failed else f"shadow ✓ {len(rows)}"
    title = "shadow evaluations (never routed or gated)" + (
        "; would have failed: " + ", ".join(failed) if failed else ""
    )
    return {"state": "shadow", "label": label, "title": title}


def span_score_badges(trace, spans: list) -> dict[str, list[Badge]]:
    """The waterfall's score badges: the spans carry their scores (Span.eval_scores, written back by evaluation)."""
    badges = {}
    for span in spans:
        marks = [s for s in (score_summary(span.eval_scores), shadow_summary(span.eval_scores)) if s]
        if marks:
            badges[span.span_id] = [Badge(f"wf-score {m['state']}", m["label"], m["title"]) for m in marks]
    return badges


def _score_fields() -> dict:
    return {
        "evaluator": forms.ChoiceField(
            required=False, choices=[("", "Any evaluator")] + [(n, n) for n in evaluator_names()]
        ),
        "failed": forms.BooleanField(required=False, label="Failed only"),
        "score_below": forms.FloatField(
            required=False, widget=forms.NumberInput(attrs={"placeholder": "Score below", "step": "any"})
        ),
        "score_above": forms.FloatField(
            required=False, widget=forms.NumberInput(attrs={"placeholder": "Score above", "step": "any"})
        ),
        "rule": forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "Rule"})),
    }


def _score_matching(*, project, data: dict):
    """Traces with one done score meeting every given condition, as a subquery; None when no condition is set."""
    evaluator, failed, below = data.get("evaluator") or "", bool(data.get("failed")), data.get("score_below")
    above, rule = data.get("score_above"), data.get("rule") or ""
    if not (evaluator or failed or below is not None or above is not None or rule):
        return None
    return trace_pks_matching_scores(
        project=project, evaluator=evaluator, failed=failed, below=below, above=above, rule=rule
    )


def evaluate_now(trace_pks: list[int]) -> list[dict]:
    """?evaluate=sync: evaluate the traces now (within a bounded time, see trace_evaluate_sync); their scores."""
    trace_evaluate_sync(trace_pks=trace_pks)
    return scores_for_traces(trace_pks=trace_pks)


def register() -> None:
    extensions.span_decorator_register(span_score_badges, order=10)
    extensions.trace_list_column_register(
        TraceListColumn(
            "score", "Scores", trace_score_annotations, "evals/_trace_list_scores.html", sort=trace_score_sort
        )
    )
    extensions.trace_list_filter_register(
        TraceListFilter("scores", _score_fields, _score_matching, "evals/_trace_list_filters.html")
    )
    extensions.sync_evaluator_register(evaluate_now)
