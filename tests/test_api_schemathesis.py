"""Schemathesis over every operation of the JSON API, with project A's key while project B holds data of its own.

For each operation, generated requests (valid ones, then invalid ones) go through the real Django app in-process.
Each answer must not be a 5xx, its status code and body must be the ones the OpenAPI schema documents, and it must
show nothing of project B: some requests name B's ids, names or reviewer, and all of them must answer 4xx.
Every failure is collected (not only the first) so the report counts them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.db.models import F
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from annotations import services as review
from annotations.models import Annotation, GoldenSetVersion, QueueItem, RegressionResult, RegressionRun
from evals import services as evals
from evals.evaluators.types import EvalResult
from evals.models import EvalRule, Feedback, Score
from insights.models import Insight
from insights.services import trace_detect
from tests.base import make_project, make_user
from tests.insights.stored import sequential_trace
from traces.models import Project, Role


class InProcessApp(WSGIHandler):
    """The Django app as WSGI, keeping the test's database connection open between requests (as Django's test
    client does: a real request's start and end close the connection, and with it the test's transaction)."""

    def __call__(self, environ, start_response):
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        try:
            response = super().__call__(environ, start_response)
            body = b"".join(response)
            response.close()
        finally:
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        return [body]


# Every request carries project A's key (run_case); unknown query parameters are ignored, as documented.
CONFIG = schemathesis.Config.from_dict(
    {"generation": {"with-security-parameters": False, "allow-extra-parameters": False}}
)
SCHEMA = schemathesis.openapi.from_wsgi("/api/openapi.json", InProcessApp(), config=CONFIG)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 30  # per operation and generation mode: about 2,200 requests in all


@dataclass
class Seeded:
    """One project's data, with the ids an API path can name and the words only this project's data holds."""

    project: Project
    key: str
    reviewer: str
    ids: dict[str, list] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)


def seed(tag: str) -> Seeded:
    """A trace with findings and scores, a rule, a queue with an item, a golden set with a version and a run."""
    user = make_user(f"{tag}-reviewer")
    project, key = make_project(f"{tag}-project", owner=user, role=Role.OWNER)
    trace = sequential_trace(project, service=f"{tag}-service")
    trace_detect(trace_pk=trace.pk)
    span = trace.spans.order_by("start_time").last()
    rule = evals.eval_rule_create(project=project, name=f"{tag}-rule", evaluators=["non_empty"])
    failed = EvalResult(status="error", error=f"{tag}-judge-error")
    score = evals.score_record(trace=trace, span=span, evaluator="faithfulness", result=failed, rule=rule)
    evals.feedback_record(trace=trace, kind="comment", comment=f"{tag}-comment", edited_output="", user_id="u")
    queue = review.queue_create(project=project, name=f"{tag}-queue")
    routing = review.routing_rule_create(queue=queue, kind="thumbs_down")
    (item,) = review.queue_items_add(queue=queue, trace_pks=[trace.pk])
    golden_set = review.golden_set_create(project=project, name=f"{tag}-golden")
    version = review.golden_items_promote(golden_set=golden_set, items_or_traces=[trace], note=f"{tag}-note")
    golden_item = version.items.get()
    run = RegressionRun.objects.create(version=version, target="http://x/v1", model="m", name=f"{tag}-run")
    RegressionResult.objects.create(run=run, item=golden_item, output=f"{tag}-output", passed=False)
    insight_ids = list(project.insights.values_list("pk", flat=True))
    return Seeded(
        project=project,
        key=key,
        reviewer=user.username,
        ids={
            "trace_id": [trace.trace_id],
            "rule_id": [rule.pk],
            "score_id": [score.pk],
            "queue_id": [queue.pk],
            "item_id": [item.pk],
            "set_id": [golden_set.pk],
            "golden_set_id": [golden_set.pk],
            "number": [version.number],
            "case_id": [golden_item.case_id],
            "run_id": [run.pk],
            "insight_id": insight_ids,
            "routing_id": [routing.pk],
        },
        secrets=[tag, trace.trace_id, golden_item.case_id],
    )


@pytest.fixture
def projects(db):
    return seed("alpha"), seed("bravo")


@dataclass
class Findings:
    """Distinct failures: one per kind, operation and status code, with the first request that showed it."""

    failures: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)

    def add(self, kind: str, where: str, text: str = "") -> None:
        self.failures.setdefault(kind, {}).setdefault(where, text)


def other_project_leaks(case, response, other: Seeded) -> list[str]:
    """B's words in the answer that the request did not send itself ("trace <id> not found" only echoes)."""
    text = response.content.decode("utf-8", "replace") if response.content else ""
    sent = case.as_curl_command() + json.dumps(case.body, default=str)
    return [s for s in other.secrets if s in text and s not in sent]


def stored(seeded: Seeded) -> dict:
    """What one project has stored, to compare before and after another project's key was used."""
    p = seeded.project
    return {
        "rules": list(EvalRule.objects.filter(project=p).order_by("pk").values_list("name", "status", "evaluators")),
        "scores": list(Score.objects.filter(project=p).order_by("pk").values_list("status", "attempts")),
        "feedback": Feedback.objects.filter(trace__project=p).count(),
        "items": list(QueueItem.objects.filter(queue__project=p).order_by("pk").values_list("trace_id", "status")),
        "annotations": Annotation.objects.filter(item__queue__project=p).count(),
        "versions": GoldenSetVersion.objects.filter(golden_set__project=p).count(),
        "insights": list(Insight.objects.filter(project=p).order_by("pk").values_list("status", flat=True)),
    }


def cross_project_rows() -> int:
    """Rows of one project that point at another project's trace."""
    return QueueItem.objects.exclude(queue__project=F("trace__project")).count()


def run_case(case, mine: Seeded, other: Seeded, found: Findings) -> None:
    found.requests += 1
    response = case.call(headers={"Authorization": f"Bearer {mine.key}"})
    where = f"{case.operation.label} -> {response.status_code}"
    found.statuses[response.status_code] += 1
    try:
        case.validate_response(response, checks=CHECKS + ([negative_data_rejection] if _negative(case) else []))
    except FailureGroup as group:
        for failure in group.exceptions:
            found.add(failure.title, where, f"{failure.message[:300]}\n    {case.as_curl_command()[:300]}")
    leaks = other_project_leaks(case, response, other)
    if leaks:
        found.add("Other project readable", where, f"shows {leaks}")


def _negative(case) -> bool:
    return case.meta is not None and not case.meta.generation.mode.is_positive


def known_values(operation, mine: Seeded, other: Seeded):
    """Path parameters drawn from both projects' real ids (or left as generated), so lookups hit stored rows."""
    names = [p.name for p in operation.path_parameters]
    choices = [{n: s.ids[n][0] for n in names if s.ids.get(n)} for s in (mine, other)]
    return st.sampled_from([None, *[c for c in choices if len(c) == len(names) and names]])


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_every_answer_is_documented_and_shows_nothing_of_another_project(operation, projects):
    mine, other = projects
    found, before = Findings(), stored(other)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        explore(operation, mode, mine, other, found)
    if stored(other) != before or cross_project_rows():
        found.add("Other project writable", operation.label, f"{before} -> {stored(other)}")
    report = "\n".join(
        f"{kind}: {len(items)}\n" + "\n".join(f"  {where}: {text}" for where, text in items.items())
        for kind, items in found.failures.items()
    )
    assert not found.failures, f"{found.requests} requests to {operation.label}:\n{report}"


def explore(operation, mode, mine: Seeded, other: Seeded, found: Findings) -> None:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        path=known_values(operation, mine, other),
        reviewer=st.sampled_from([None, mine.reviewer, other.reviewer]),
        trace=st.sampled_from([None, mine.ids["trace_id"][0], other.ids["trace_id"][0]]),
    )
    def one(case, path, reviewer, trace):
        if path and mode.is_positive:
            case.path_parameters = {**(case.path_parameters or {}), **path}
        if reviewer and mode.is_positive and isinstance(case.body, dict) and "reviewer" in case.body:
            case.body["reviewer"] = reviewer
        if trace and mode.is_positive and isinstance(case.body, dict):
            case.body.update({k: v for k, v in (("trace_id", trace), ("trace_ids", [trace])) if k in case.body})
        run_case(case, mine, other, found)

    try:
        one()
    except Unsatisfiable as exc:  # no invalid request exists for an operation without input: nothing to send
        if mode.is_positive:
            found.add("Could not generate", operation.label, repr(exc)[:300])
