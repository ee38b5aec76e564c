"""What the apps above traces add to its pages and commands, registered from their AppConfig.ready().

`traces` imports nothing from evals, insights or annotations (tests/traces/test_layering.py checks it): they
fill in these registries, and traces calls what was registered, as it runs the pipeline's stages
(traces.pipeline.stage_register). Blocks of a page that stand alone (a trace's findings, the review queue
picker) are not here: they are partials the upper app serves, loaded with htmx. What is drawn inside rows
traces renders (waterfall badges, the trace list's columns and filters) is.

- span_decorators: (trace, spans) -> {span_id: [Badge]}, drawn in the waterfall rows of the given spans.
- trace_list_columns / trace_list_filters: a column of the trace list, read in the list's one query through
  annotations; filters whose fields join the list's form and narrow it by a subquery of trace pks.
- sync_evaluator: the ?evaluate=sync of the receivers: (trace_pks) -> the scores, evaluated now.
- demo_project_hooks: (project) -> None, run once when peekr_setup makes the demo project.
- project_created_hooks: (project) -> None, run in project_create's transaction (alerts' built-in monitors).
- retention_keep_hooks: (project, trace_pks) -> the pks among them that are flagged (a failing score, a finding,
  a user signal, a review item): retention keeps their content to the flagged tier (traces.retention_run).
- retention_purge_hooks: (project, cutoff, dry_run) -> {what: rows}: the app's own rows past the record tier that
  no trace holds (metrics' rollups); counted, not removed, when dry_run.

Registering the same thing twice is a no-op (ready() can run twice in tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Badge:
    """A mark on a waterfall row: <span class="{css}" title="{title}">{text}</span>; row_class joins the row's."""

    css: str
    text: str
    title: str = ""
    row_class: str = ""


@dataclass(frozen=True)
class TraceListColumn:
    name: str
    header: str
    annotations: Callable[[], dict]  # expressions added to each trace of the list's query
    template: str  # renders the row's <td>, with the trace as `t`
    sort: Callable[[], Any] | None = None  # an expression to sort the list by this column (keyset-paged), or None


@dataclass(frozen=True)
class TraceListFilter:
    name: str
    fields: Callable[[], dict]  # form fields, named as in the list's query string
    matching: Callable[..., Any]  # (project=, data=cleaned_data) -> a subquery of trace pks, or None when unused
    template: str  # renders its fields in the filter row, with the form as `form`


SpanDecorator = Callable[[Any, list], dict[str, list[Badge]]]

span_decorators: list[tuple[int, SpanDecorator]] = []
trace_list_columns: list[TraceListColumn] = []
trace_list_filters: list[TraceListFilter] = []
sync_evaluators: list[Callable[[list[int]], list[dict]]] = []
demo_project_hooks: list[Callable[[Any], None]] = []
project_created_hooks: list[Callable[[Any], None]] = []
# (project, trace_pk) -> bool: the trace is in one of the project's review queues (annotations), so a reviewer
# who may not browse the explorer may still open it (traces.access.trace_visible).
review_trace_hooks: list[Callable[[Any, int], bool]] = []
retention_keep_hooks: list[Callable[[Any, list[int]], set[int]]] = []
retention_purge_hooks: list[Callable[..., dict[str, int]]] = []


def span_decorator_register(decorator: SpanDecorator, *, order: int = 100) -> None:
    """Badges from a lower order are drawn first on a row."""
    if all(d is not decorator for _, d in span_decorators):
        span_decorators.append((order, decorator))
        span_decorators.sort(key=lambda pair: pair[0])


def _register(registry: list, item: Any) -> None:
    names = [getattr(x, "name", x) for x in registry]
    if getattr(item, "name", item) not in names:
        registry.append(item)


def trace_list_column_register(column: TraceListColumn) -> None:
    _register(trace_list_columns, column)


def trace_list_filter_register(filter: TraceListFilter) -> None:
    _register(trace_list_filters, filter)


def sync_evaluator_register(evaluate: Callable[[list[int]], list[dict]]) -> None:
    _register(sync_evaluators, evaluate)


def demo_project_hook_register(hook: Callable[[Any], None]) -> None:
    _register(demo_project_hooks, hook)


def project_created_hook_register(hook: Callable[[Any], None]) -> None:
    _register(project_created_hooks, hook)


def retention_keep_register(hook: Callable[[Any, list[int]], set[int]]) -> None:
    _register(retention_keep_hooks, hook)


def retention_purge_register(hook: Callable[..., dict[str, int]]) -> None:
    _register(retention_purge_hooks, hook)


# --- What traces calls ---


def span_badges(trace, spans: list) -> dict[str, list[Badge]]:
    """Every registered decorator's badges for these spans, by span id."""
    out: dict[str, list[Badge]] = {}
    for _, decorate in span_decorators:
        for span_id, badges in decorate(trace, spans).items():
            out.setdefault(span_id, []).extend(badges)
    return out


def trace_list_annotations() -> dict:
    annotations: dict = {}
    for column in trace_list_columns:
        annotations.update(column.annotations())
    return annotations


def trace_list_sorts() -> dict:
    """{column name: () -> expression} of the registered columns the list can be sorted by."""
    return {column.name: column.sort for column in trace_list_columns if column.sort is not None}


def evaluate_now(trace_pks: list[int]) -> list[dict]:
    """The scores of these traces, evaluated now; none when no app evaluates."""
    scores: list[dict] = []
    for evaluate in sync_evaluators:
        scores += evaluate(trace_pks)
    return scores


def demo_project_created(project) -> None:
    for hook in demo_project_hooks:
        hook(project)


def project_created(project) -> None:
    for hook in project_created_hooks:
        hook(project)


def retention_flagged(project, trace_pks: list[int]) -> set[int]:
    """The traces among these that some app flagged (kept to the flagged tier)."""
    flagged: set[int] = set()
    for hook in retention_keep_hooks:
        if trace_pks:
            flagged |= set(hook(project, trace_pks))
    return flagged


def retention_purge(project, cutoff, *, dry_run: bool = False) -> dict[str, int]:
    removed: dict[str, int] = {}
    for hook in retention_purge_hooks:
        for what, rows in hook(project, cutoff, dry_run=dry_run).items():
            removed[what] = removed.get(what, 0) + rows
    return removed


def review_trace_hook_register(hook: Callable[[Any, int], bool]) -> None:
    _register(review_trace_hooks, hook)


def trace_in_review(project, trace_pk: int) -> bool:
    return any(hook(project, trace_pk) for hook in review_trace_hooks)
