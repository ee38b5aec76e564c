"""The trace page loads the trace's findings (title, message, saving, fix with Copy buttons) above the waterfall
from insights (an htmx partial; a page without htmx) and marks their spans' rows, through traces.extensions; the
waterfall's next rows are marked too."""

import re

import pytest
from django.urls import reverse

from insights import services
from tests.insights.stored import quiet_trace, sequential_trace
from traces.models import Span

pytestmark = pytest.mark.django_db


def trace_url(project, trace):
    return reverse("traces:trace_detail", args=[project.pk, trace.trace_id])


def findings_url(project, trace):
    return reverse("insights:trace_findings", args=[project.pk, trace.trace_id])


def marked_rows(html: str) -> list[str]:
    return re.findall(r'<a class="wf-row[^"]* has-finding[^"]*" href="\?span=([0-9a-f]+)"', html)


def test_the_trace_page_shows_its_findings_and_marks_their_spans(owner_client, project):
    trace = sequential_trace(project)
    services.trace_detect(trace_pk=trace.pk)
    calls = list(Span.objects.filter(trace=trace, kind="llm").order_by("start_time").values_list("span_id", flat=True))

    html = owner_client.get(trace_url(project, trace)).content.decode()
    assert f'hx-get="{findings_url(project, trace)}" hx-trigger="load"' in html
    assert marked_rows(html) == calls
    assert html.count('<span class="wf-finding"') == 2
    assert '<span class="wf-finding" title="In insight 1 of this trace">⚑ 1</span>' in html

    html = owner_client.get(findings_url(project, trace), headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in html
    assert '<section class="trace-findings"' in html
    assert 'data-detector="sequential_execution"' in html
    assert "Sequential execution of &quot;chat.completions&quot;" in html
    assert (
        "Root cause: sequential execution of &quot;chat.completions&quot;\n2 spans ran one after another. "
        "Total: 10.5s, slowest single: 5.7s. Running them concurrently would save 4.8s." in html
    )
    assert "saves 4.80 s" in html
    assert html.count('<button type="button" class="copy" data-copy="#fix-') >= 2  # before and after
    insight = trace.findings.get().insight
    assert reverse("insights:insight_detail", args=[project.pk, insight.pk]) in html


def test_a_trace_without_findings_has_no_section(owner_client, project):
    trace = quiet_trace(project)
    services.trace_detect(trace_pk=trace.pk)
    assert not marked_rows(owner_client.get(trace_url(project, trace)).content.decode())
    partial = owner_client.get(findings_url(project, trace), headers={"HX-Request": "true"})
    assert partial.status_code == 200 and partial.content.decode().strip() == ""


def test_without_htmx_the_findings_are_a_page_of_their_own(owner_client, project):
    trace = sequential_trace(project)
    services.trace_detect(trace_pk=trace.pk)
    html = owner_client.get(findings_url(project, trace)).content.decode()
    assert "<html" in html and '<section class="trace-findings"' in html
    assert reverse("traces:trace_detail", args=[project.pk, trace.trace_id]) in html


def test_outsiders_get_404_on_the_findings(client, outsider, project):
    trace = sequential_trace(project)
    services.trace_detect(trace_pk=trace.pk)
    client.force_login(outsider)
    assert client.get(findings_url(project, trace), headers={"HX-Request": "true"}).status_code == 404
    assert client.get(findings_url(project, trace)).status_code == 404


def test_the_next_rows_partial_marks_spans_too(owner_client, project):
    trace = sequential_trace(project)
    services.trace_detect(trace_pk=trace.pk)
    url = reverse("traces:waterfall_rows", args=[project.pk, trace.trace_id]) + "?offset=0"
    html = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert len(marked_rows(html)) == 2


def test_the_page_and_its_findings_read_them_in_one_query_each(owner_client, project, django_assert_max_num_queries):
    trace = sequential_trace(project)
    services.trace_detect(trace_pk=trace.pk)
    # session, user, membership, trace, spans, the open span, the findings (their marks), the audit row, the project
    # switcher
    with django_assert_max_num_queries(9):
        owner_client.get(trace_url(project, trace))
    # session, user, membership + project, trace, the findings with their insights
    with django_assert_max_num_queries(5):
        owner_client.get(findings_url(project, trace), headers={"HX-Request": "true"})
