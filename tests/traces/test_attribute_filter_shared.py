"""The trace list's attribute filter finds attributes stored once for many spans (traces.shared_values): a span
kind, a mime type or a tool schema that recurs is not in the span's stored attributes, yet filtering on it finds
every trace that sent it, on the page and in the API, and no other."""

import time

import pytest

from tests.base import make_raw_span
from tests.traces.test_trace_list_filters import shown_on_page
from traces import shared_values
from traces.models import Span, Trace
from traces.services import spans_ingest


@pytest.fixture
def traffic(project):
    shared_values.forget()  # counts are per process: start from none
    now = time.time()
    names = []
    for i in range(6):  # past SHARE_AFTER, so the recurring attributes end up in a bundle
        attrs = {"openinference.span.kind": "LLM", "input.mime_type": "application/json", "app.flag": i % 2 == 0,
                 "llm.invocation_parameters": '{"model": "gpt-4o-mini", "temperature": 0.2}'}  # fmt: skip
        span = make_raw_span(name=f"ask {i}", start=now - 60 + i, attributes=attrs)
        spans_ingest(project=project, raws=[span])
        names.append(f"ask {i}")
    other = make_raw_span(name="plain", start=now - 10, attributes={"openinference.span.kind": "CHAIN"})
    spans_ingest(project=project, raws=[other])
    return names


def test_a_shared_attribute_is_found_by_equals_prefix_and_contains(owner_client, project, traffic):
    shared = Span.objects.filter(project=project, lean__s__isnull=False)
    assert shared.exists()  # the premise: some spans no longer store the attribute themselves
    assert any("openinference.span.kind" not in s.attributes for s in shared)
    everything = set(traffic)
    assert shown_on_page(owner_client, project, attr_key="openinference.span.kind", attr_value="LLM") == everything
    assert shown_on_page(owner_client, project, attr_key="input.mime_type", attr_value="application/",
                         attr_op="prefix") == everything  # fmt: skip
    assert shown_on_page(owner_client, project, attr_key="llm.invocation_parameters", attr_value="TEMPERATURE",
                         attr_op="contains") == everything  # fmt: skip
    assert shown_on_page(owner_client, project, attr_key="openinference.span.kind", attr_value="CHAIN") == {"plain"}
    assert shown_on_page(owner_client, project, attr_key="openinference.span.kind", attr_value="llm") == set()


def test_bundles_matching_reads_only_the_projects_bundles(project, traffic):
    from tests.base import make_project

    other, _ = make_project(name="other")
    assert shared_values.bundles_matching(project.pk, "openinference.span.kind", "eq", "LLM")
    assert shared_values.bundles_matching(other.pk, "openinference.span.kind", "eq", "LLM") == []
    assert Trace.objects.filter(project=project).count() == 7
