"""A Peekr SDK span's retention_class shortens its own content's life when it says less than the project."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.base import make_flag
from tests.traces.test_peekr_spans_endpoint import post, sdk_span
from traces.models import Span
from traces.retention import EXPIRED_MARKER
from traces.retention_run import retention_run


def span_of(payload) -> Span:
    return Span.objects.get(span_id=payload["span_id"])


def expired(span: Span) -> bool:
    span.refresh_from_db()
    return EXPIRED_MARKER in span.attributes and span.input_text == "" and span.output_text == ""


@pytest.mark.django_db
def test_short_and_pii_classes_expire_before_the_project_default_and_long_changes_nothing(client, project, api_key):
    t0 = timezone.now()
    sent = {cls: sdk_span(retention_class=cls) for cls in ("short", "pii", "long", "default", None, "forever")}
    assert post(client, {"spans": list(sent.values())}, api_key).status_code == 200
    spans = {cls: span_of(p) for cls, p in sent.items()}
    assert spans["short"].input_text == "hi"

    retention_run(now=t0 + timedelta(days=2), pause=0)
    assert expired(spans["pii"])
    assert not any(expired(spans[c]) for c in ("short", "long", "default", None, "forever"))

    retention_run(now=t0 + timedelta(days=8), pause=0)
    assert expired(spans["short"])
    assert not any(expired(spans[c]) for c in ("long", "default", None, "forever"))

    retention_run(now=t0 + timedelta(days=31), pause=0)  # "long" cannot lengthen the project's 30 days
    assert all(expired(s) for s in spans.values())


@pytest.mark.django_db
def test_a_short_class_span_of_a_flagged_trace_still_goes_at_7_days(client, project, api_key):
    t0 = timezone.now()
    short, default = sdk_span(retention_class="short"), sdk_span(retention_class=None)
    default["trace_id"] = short["trace_id"]
    assert post(client, {"spans": [short, default]}, api_key).status_code == 200
    make_flag(span_of(short).trace, "score")

    retention_run(now=t0 + timedelta(days=8), pause=0)
    assert expired(span_of(short))
    retention_run(now=t0 + timedelta(days=31), pause=0)
    assert not expired(span_of(default))  # flagged: kept to 90 days
    retention_run(now=t0 + timedelta(days=91), pause=0)
    assert expired(span_of(default))
