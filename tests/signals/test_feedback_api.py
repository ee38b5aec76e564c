"""POST /api/v1/feedback's new kinds (rating, task_completed, edit with its edit distance), its refusals, and
every feedback becoming a signal routed by the policy (thumbs-down: review and golden candidate)."""

import time

import pytest

from annotations.models import QueueItem
from evals.models import Feedback
from signals.models import Signal
from signals.routing import GOLDEN_QUEUE, REVIEW_QUEUE
from tests.base import make_turn

ANSWER = "To reset your password open Settings, then Security, then choose Reset password. " * 6  # > 300 chars


def post(client, key, **body):
    return client.post(
        "/api/v1/feedback", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


@pytest.fixture
def trace(project):
    return make_turn(project, session="s", text="reset password?", answer=ANSWER, start=time.time() - 60)


@pytest.mark.django_db
def test_a_rating_is_normalised_to_0_1_and_becomes_a_signal(client, api_key, trace, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        resp = post(client, api_key, trace_id=trace.trace_id, kind="rating", value=4)
    assert resp.status_code == 201 and resp.json()["value"] == 0.75
    assert Feedback.objects.get().value == 0.75
    sig = Signal.objects.get()
    assert (sig.kind, sig.value, sig.source, sig.trace_id, sig.session_id) == ("rating", 0.75, "api", trace.pk, "s")


@pytest.mark.django_db
def test_an_edit_stores_the_edit_distance_to_the_whole_answer(
    client, api_key, trace, django_capture_on_commit_callbacks
):
    from rapidfuzz.distance import Levenshtein

    edited = ANSWER[:-12] + "Forgot it?"  # one change near the end, past the 300-char preview
    with django_capture_on_commit_callbacks(execute=True):
        resp = post(client, api_key, trace_id=trace.trace_id, kind="edit", edited_output=edited)
    assert resp.status_code == 201
    expected = Levenshtein.normalized_distance(ANSWER, edited)  # the full answer, not the 300-char preview
    assert 0 < expected < 0.05 and resp.json()["value"] == pytest.approx(expected)
    assert Signal.objects.get(kind="edit").value == pytest.approx(expected)
    post(client, api_key, trace_id=trace.trace_id, kind="edit", edited_output="Something else entirely.")
    assert Feedback.objects.filter(kind="edit").order_by("pk").last().value > 0.8


@pytest.mark.django_db
def test_task_completed_is_a_signal_and_keeps_the_session_from_being_abandoned(
    client, api_key, trace, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, api_key, trace_id=trace.trace_id, kind="task_completed").status_code == 201
    from signals.selectors import sessions_completed

    assert Signal.objects.get().kind == "task_completed"
    assert sessions_completed(trace.project, ["s", "other"]) == {"s"}


@pytest.mark.django_db
def test_a_thumbs_down_goes_to_review_and_to_the_golden_candidates(
    client, api_key, trace, django_capture_on_commit_callbacks, eager_tasks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, api_key, trace_id=trace.trace_id, kind="thumbs_down", comment="wrong").status_code == 201
    reasons = dict(QueueItem.objects.filter(trace=trace).values_list("queue__name", "reason"))
    assert reasons == {REVIEW_QUEUE: "signal thumbs_down", GOLDEN_QUEUE: "golden candidate: thumbs_down"}
    assert Signal.objects.get().evidence["comment"] == "wrong"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"kind": "rating"}, 400, "a rating needs a value from 1 to 5"),
        ({"kind": "rating", "value": 7}, 400, "a rating needs a value from 1 to 5"),
        ({"kind": "edit"}, 400, "an edit needs edited_output"),
        ({"kind": "thumbs_up", "value": 1}, 400, "value is only accepted with kind rating"),
        ({"kind": "rating", "value": "lots"}, 422, "value"),
        ({"kind": "sparkles"}, 422, "kind"),
    ],
)
def test_bad_feedback_is_refused_with_a_reason(client, api_key, trace, body, status, reason):
    resp = post(client, api_key, trace_id=trace.trace_id, **body)
    assert resp.status_code == status
    assert reason in str(resp.json())
    assert not Feedback.objects.exists() and not Signal.objects.exists()
