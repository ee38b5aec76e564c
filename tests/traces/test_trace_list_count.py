"""The trace list's total: exact up to 10,000 matching traces, then "10,000+" (the count never reads further)."""

import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from traces import selectors
from traces.models import Trace


def bulk_traces(project, n: int, **kw) -> None:
    now = timezone.now()
    Trace.objects.bulk_create(
        [Trace(project=project, trace_id=f"{i:032x}", name=f"t{i}", start_time=now - timedelta(seconds=i), **kw)
         for i in range(n)],
        batch_size=2000,
    )  # fmt: skip


def total_shown(response) -> str:
    return re.search(r'id="trace-total">([^<]+)</p>', response.content.decode()).group(1).strip()


def test_the_count_is_exact_below_the_bound(owner_client, project):
    bulk_traces(project, 7)
    bulk_traces_error = Trace.objects.filter(project=project, name__in=["t1", "t2"])
    bulk_traces_error.update(status="error", error_count=1)
    url = reverse("traces:trace_list", args=[project.pk])
    assert total_shown(owner_client.get(url)) == "7 traces"
    assert total_shown(owner_client.get(url + "?status=error")) == "2 traces"
    assert selectors.traces_count(project=project, filters=selectors.TraceFilters(), bound=7) == (7, False)
    assert selectors.traces_count(project=project, filters=selectors.TraceFilters(), bound=6) == (6, True)


def test_past_ten_thousand_it_says_ten_thousand_plus(owner_client, project):
    bulk_traces(project, selectors.COUNT_BOUND + 1)
    response = owner_client.get(reverse("traces:trace_list", args=[project.pk]))
    assert total_shown(response) == "10,000+ traces"
    Trace.objects.filter(project=project, name="t0").delete()
    response = owner_client.get(reverse("traces:trace_list", args=[project.pk]))
    assert total_shown(response) == "10,000 traces"


def test_a_search_counts_to_five_hundred(owner_client, project):
    from traces.models import Span

    bulk_traces(project, selectors.SEARCH_COUNT_BOUND + 1)
    Span.objects.bulk_create(
        [Span(project=project, trace=t, span_id=f"{t.pk:016x}", name="chat", start_time=t.start_time,
              input_text="Where did I leave my umbrella?")
         for t in Trace.objects.filter(project=project)],
        batch_size=2000,
    )  # fmt: skip
    url = reverse("traces:trace_list", args=[project.pk])
    assert total_shown(owner_client.get(url + "?q=umbrella")) == "500+ traces"
    assert total_shown(owner_client.get(url)) == "501 traces"
