"""The trace list's filters, on the page and in the JSON API: contains / equals / starts-with on the text fields,
any span attribute, cost and duration ranges, and the filters the apps above add (scores, signals, findings).

Run on SQLite and on PostgreSQL (PEEKR_DATABASE_URL): LIKE and JSON keys differ between them."""

import re
import time
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from tests.base import llm_attributes, make_flag, make_raw_span
from traces.models import Trace
from traces.services import spans_ingest


def make(project, name, *, start, duration=1.0, llm=None, root_attrs=None, resource=None, service="web"):
    """A root span (+ one LLM child with these token counts), with extra root attributes and resource."""
    root = make_raw_span(name=name, start=start, duration=duration, attributes=root_attrs or {}, service=service)
    root.resource.update(resource or {})
    spans = [root]
    if llm:
        model, inp, out = llm
        child = make_raw_span(trace_id=root.trace_id, parent_span_id=root.span_id, name=f"chat {model}", kind=3,
                              start=start + 0.1, duration=0.5, attributes=llm_attributes(model=model, inp=inp, out=out),
                              service=service)  # fmt: skip
        child.resource.update(resource or {})
        spans.append(child)
    spans_ingest(project=project, raws=spans)
    return Trace.objects.get(project=project, trace_id=root.trace_id)


@pytest.fixture
def varied(project):
    # Hashed ids (the default for users) match only "equals" (the typed id is hashed the same way): contains and
    # starts-with need the ids stored as sent.
    project.privacy.hash_user_id = False
    project.privacy.save()
    now = time.time()
    traces = {
        "alpha": make(project, "alpha", start=now - 10, llm=("gpt-4o-mini", 1000, 500),
                      root_attrs={"user.id": "alice@acme", "session.id": "sess-100", "tag.tags": ["vip", "beta-users"],
                                  "http.route": "/v1/answer", "app.tenant": "acme-eu"},
                      resource={"deployment.environment.name": "production", "service.version": "2.4.1"},
                      service="billing"),
        "beta": make(project, "beta", start=now - 20, duration=12.0, llm=("claude-sonnet-4", 10, 5),
                     root_attrs={"user.id": "bob", "session.id": "sess-200", "langfuse.trace.tags": ["internal-test"],
                                 "http.route": "/v1/search", "app.tenant": "globex"},
                     resource={"deployment.environment": "staging", "service.version": "2.5.0-rc1"},
                     service="search"),
        "gamma": make(project, "gamma", start=now - 30, duration=0.2,
                      root_attrs={"user.id": "alicia", "langfuse.environment": "prod-eu", "retries": 3}),
    }  # fmt: skip
    return traces


def shown_on_page(client, project, **params) -> set[str]:
    response = client.get(reverse("traces:trace_list", args=[project.pk]) + "?" + urlencode(params))
    assert response.status_code == 200, response
    return set(re.findall(r'class="trace-name" href="[^"]+">([^<]+)</a>', response.content.decode()))


def shown_in_api(client, key, **params) -> set[str]:
    response = client.get("/api/v1/traces?" + urlencode(params), headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.content
    return {t["name"] for t in response.json()["items"]}


def test_environment_and_tags_are_kept_on_the_trace_row(varied):
    assert (varied["alpha"].environment, varied["alpha"].tag_list) == ("production", ["beta-users", "vip"])
    assert (varied["beta"].environment, varied["beta"].tag_list) == ("staging", ["internal-test"])
    assert (varied["gamma"].environment, varied["gamma"].tags) == ("prod-eu", "")


TEXT_CASES = [
    ({"model": "gpt-4o-mini"}, {"alpha"}),
    ({"model": "gpt-4o"}, set()),  # equals is the default: a model's prefix is not the model
    ({"model": "gpt", "model_op": "prefix"}, {"alpha"}),
    ({"model": "SONNET", "model_op": "contains"}, {"beta"}),
    ({"user_id": "alice@acme"}, {"alpha"}),
    ({"user_id": "ali", "user_id_op": "prefix"}, {"alpha", "gamma"}),
    ({"session_id": "sess-200"}, {"beta"}),
    ({"session_id": "sess-", "session_id_op": "prefix"}, {"alpha", "beta"}),
    ({"service": "search"}, {"beta"}),
    ({"service": "ILL", "service_op": "contains"}, {"alpha"}),
    ({"release": "2.5.0-rc1"}, {"beta"}),
    ({"release": "2.", "release_op": "prefix"}, {"alpha", "beta"}),
    ({"environment": "production"}, {"alpha"}),
    ({"environment": "prod", "environment_op": "prefix"}, {"alpha", "gamma"}),
    ({"environment": "stag", "environment_op": "contains"}, {"beta"}),
    ({"tag": "vip"}, {"alpha"}),
    ({"tag": "beta"}, set()),  # a tag is equal only to itself
    ({"tag": "beta", "tag_op": "prefix"}, {"alpha"}),
    ({"tag": "test", "tag_op": "contains"}, {"beta"}),
    ({"name": "ALP"}, {"alpha"}),  # the name contains, by default
    ({"name": "alpha", "name_op": "eq"}, {"alpha"}),
    ({"name": "%"}, set()),  # LIKE's wildcards are the characters themselves
    ({"name": "_", "name_op": "prefix"}, set()),
]

ATTRIBUTE_CASES = [
    ({"attr_key": "http.route", "attr_value": "/v1/answer"}, {"alpha"}),
    ({"attr_key": "http.route", "attr_value": "/v1/", "attr_op": "prefix"}, {"alpha", "beta"}),
    ({"attr_key": "app.tenant", "attr_value": "eu", "attr_op": "contains"}, {"alpha"}),
    ({"attr_key": "retries", "attr_value": "3"}, {"gamma"}),  # a number matches its text
    ({"attr_key": "deployment.environment", "attr_value": "staging"}, {"beta"}),  # resource attributes too
    ({"attr_key": "nope", "attr_value": "x"}, set()),
]

RANGE_CASES = [
    ({"min_duration_ms": "5000"}, {"beta"}),
    ({"max_duration_ms": "500"}, {"gamma"}),
    ({"min_duration_ms": "500", "max_duration_ms": "5000"}, {"alpha"}),
    ({"min_cost": "0.0002"}, {"alpha"}),  # 1,000 + 500 tokens of gpt-4o-mini: $0.00045; beta: $0.000105
    ({"max_cost": "0"}, {"gamma"}),
    ({"min_cost": "0.000001", "max_cost": "0.0002"}, {"beta"}),
]


@pytest.mark.parametrize(("params", "expected"), TEXT_CASES + ATTRIBUTE_CASES + RANGE_CASES)
def test_each_filter_keeps_the_matching_traces_on_the_page_and_in_the_api(
    owner_client, client, api_key, varied, params, expected
):
    assert shown_on_page(owner_client, varied["alpha"].project, **params) == expected
    from tests.base import make_key

    read_key = make_key(varied["alpha"].project, scope="read")
    assert shown_in_api(client, read_key, **params) == expected


def test_an_attribute_filter_looks_only_at_the_newest_traces_it_is_bounded_to(owner_client, varied, monkeypatch):
    from traces import selectors

    monkeypatch.setattr(selectors, "ATTRIBUTE_SCAN_TRACES", 2)  # gamma, the oldest, is past the bound
    assert shown_on_page(owner_client, varied["alpha"].project, attr_key="retries", attr_value="3") == set()
    assert shown_on_page(owner_client, varied["alpha"].project, attr_key="app.tenant", attr_value="globex") == {"beta"}


def test_score_filters_evaluator_below_above_and_failed_rule(owner_client, varied):
    from evals.models import EvalRule, Score

    project = varied["alpha"].project
    rule = EvalRule.objects.create(project=project, name="safety", evaluators=["pii"])
    for name, value, passed, by in (
        ("alpha", 0.2, False, rule),
        ("beta", 0.9, True, rule),
        ("gamma", 0.4, False, None),
    ):
        trace = varied[name]
        Score.objects.create(project=project, trace=trace, target_key=f"trace:{trace.pk}", evaluator="pii",
                             status="done", value=value, passed=passed, rule=by)  # fmt: skip
    assert shown_on_page(owner_client, project, evaluator="pii", score_below="0.5") == {"alpha", "gamma"}
    assert shown_on_page(owner_client, project, evaluator="pii", score_above="0.3") == {"beta", "gamma"}
    assert shown_on_page(owner_client, project, rule="safety", failed="on") == {"alpha"}
    assert shown_on_page(owner_client, project, rule="safety") == {"alpha", "beta"}


def test_signal_feedback_and_finding_filters(owner_client, varied):
    project = varied["alpha"].project
    make_flag(varied["beta"], "signal")  # a thumbs-down
    make_flag(varied["gamma"], "finding")
    from insights.models import Finding

    Finding.objects.filter(trace=varied["gamma"]).update(detector="runaway_loop")
    assert shown_on_page(owner_client, project, signal="thumbs_down") == {"beta"}
    assert shown_on_page(owner_client, project, finding="any") == {"gamma"}
    assert shown_on_page(owner_client, project, finding="runaway_loop") == {"gamma"}
    assert shown_on_page(owner_client, project, finding="retry_storm") == set()
