"""Rule scores as plain rows: what a pipeline batch builds thousands of (~19 a trace with the built-in rules).

A Django model instance per score cost more than running the rules (its __init__ walks every field, sets every
foreign key through its descriptor); a ScoreRow is a tuple of the columns, built in one call. They are written by
evals.services.scores_upsert as Score instances are, under the same unique key, so a retry never duplicates.
"""

from __future__ import annotations

from typing import NamedTuple

from evals.evaluators.types import EvalResult
from evals.models import Mode, Score

RULE = Score.Source.RULE.value


class ScoreRow(NamedTuple):
    """A Score's columns by attname (the key first); the rest (attempts, created_at, updated_at) take the model's
    defaults when it is written. Reads like a Score where the pipeline reads one (evaluator, passed, mode)."""

    target_key: str
    evaluator: str
    rubric_version: str
    judge_model: str
    project_id: int
    trace_id: int
    span_id: int | None
    rule_id: int | None
    source: str
    status: str
    value: float | None
    label: str
    passed: bool | None
    explanation: str
    details: dict
    error: str
    raw_reply: str
    cost: float
    latency_ms: float | None
    mode: str


def score_row(
    *, trace_pk: int, project_id: int, span_pk: int | None, evaluator: str, result: EvalResult, rule, version: str
) -> ScoreRow:
    """The row of a rule's ``result`` on a span (or the trace when ``span_pk`` is None): evals.services.score_build's
    values, without the model."""
    return ScoreRow(
        f"span:{span_pk}" if span_pk is not None else f"trace:{trace_pk}",
        evaluator,
        version,
        "",
        project_id,
        trace_pk,
        span_pk,
        rule.pk if rule is not None else None,
        RULE,
        result.status,
        result.value,
        result.label[:200],
        result.passed,
        result.explanation,
        result.details,
        result.error,
        result.raw,
        result.cost,
        result.latency_ms,
        rule.mode_of(evaluator) if rule is not None else Mode.ADVISORY,
    )


def row_model(row: ScoreRow) -> Score:
    """The unsaved Score of a row (the ORM's upsert of a few rows, and SQLite's)."""
    return Score(**row._asdict())


def row_fields(row: ScoreRow, **extra) -> dict:
    """A row as pg_copy_upsert takes it: attname -> value."""
    return {**row._asdict(), **extra}
