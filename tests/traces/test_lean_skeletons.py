"""What differs from call to call only by ids and counts is stored once as a skeleton (traces.shared_values.holes):
a response body's skeleton is shared, its holes stay in the span's record; short attributes that recur (a span
kind, a mime type) are shared too, except the keys the apps read from the stored attributes. Every span still reads
back exactly as sent."""

import json

import pytest

from tests.base import make_project, make_raw_span
from traces import lean, shared_values
from traces.models import SharedValue, Span
from traces.services import spans_ingest


def response_attributes(i: int) -> dict:
    """An LLM span whose response body carries this call's id and token counts around its answer."""
    answer = f"Answer {i}: the team plan has offline notebooks, since May."
    response = {
        "id": f"chatcmpl-{i:04d}f3a9c2b7e1d{i * 7919:06d}",
        "choices": [{"finish_reason": "stop", "index": 0, "message": {"content": answer, "role": "assistant"}}],
        "created": 1764979200 + i,
        "model": "gpt-4o-mini-2024-07-18",
        "usage": {"completion_tokens": 10 + i, "prompt_tokens": 120 + 3 * i, "total_tokens": 130 + 4 * i},
    }
    return {
        "openinference.span.kind": "LLM",
        "gen_ai.operation.name": "chat",
        "peekr.release": "r1",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": answer,
        "output.value": json.dumps(response, separators=(",", ":")),
        "output.mime_type": "application/json",
        "input.mime_type": "application/json",
    }


SENT = [response_attributes(i) for i in range(6)]


def ingest(project, sent: list[dict]) -> list[Span]:
    """One request a span, in this order (a batch is stored in span id order)."""
    raws = [make_raw_span(name="ChatCompletion", attributes=a) for a in sent]
    for raw in raws:
        spans_ingest(project=project, raws=[raw])
    by_id = {s.span_id: s for s in Span.objects.filter(project=project, span_id__in=[r.span_id for r in raws])}
    return [by_id[r.span_id] for r in raws]


def test_a_skeleton_and_its_holes_make_the_template_again():
    template = ['{"id":"chatcmpl-9f3a","n":0,"usage":{"total_tokens":788},"content":"', ["ot", 1], '"}']
    skeleton, holes = shared_values.holes(template)

    assert holes == ["chatcmpl-9f3a", "0", "788"]
    assert all(not any(c.isdigit() for c in piece) for piece in skeleton if isinstance(piece, str))
    assert shared_values.filled(skeleton, holes) == template
    assert shared_values.filled(skeleton, holes[:2]) is None  # a hole missing: no value rather than a wrong one
    assert shared_values.holes(["no digits here ", ["ot", 0]]) == (["no digits here ", ["ot", 0]], [])
    assert shared_values.holes("ot") == ("ot", [])
    prose = [" ".join(f"step {n}" for n in range(shared_values.MAX_HOLES + 1))]
    assert shared_values.holes(prose) == (prose, [])  # prose full of numbers is not a skeleton


@pytest.mark.django_db
def test_a_response_body_differing_by_ids_and_counts_is_shared_as_a_skeleton(settings):
    settings.PEEKR_LEAN_STORAGE = True
    project = make_project()[0]
    spans = ingest(project, SENT)

    later = spans[shared_values.SHARE_AFTER - 1 :]
    for i, span in enumerate(later, start=shared_values.SHARE_AFTER - 1):
        assert "a" not in span.lean  # the body's template is in the shared row...
        assert (
            span.lean["h"]["output.value"].split(" ")[0] == json.loads(SENT[i]["output.value"])["id"]
        )  # ...not its id
    assert SharedValue.objects.count() == 1  # one skeleton for every later call
    shared_values.forget()  # read as another process would: from the rows
    for span, sent in zip(spans, SENT, strict=True):
        assert lean.raw_attributes(span) == sent


@pytest.mark.django_db
def test_short_attributes_that_recur_are_shared_except_those_the_apps_read(settings):
    settings.PEEKR_LEAN_STORAGE = True
    project = make_project()[0]
    spans = ingest(project, SENT)

    assert set(spans[0].attributes) >= {"openinference.span.kind", "output.mime_type"}  # not recurring yet
    for span in spans[shared_values.SHARE_AFTER - 1 :]:
        # gen_ai.operation.name: the insights detectors read it; peekr.*: the signals do
        assert span.attributes == {"gen_ai.operation.name": "chat", "peekr.release": "r1"}
        assert lean.raw_attributes(span)["openinference.span.kind"] == "LLM"
