import pytest

from evals.models import Feedback, Score
from tests.base import make_trace


def post(client, key, **body):
    return client.post(
        "/api/v1/feedback", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


@pytest.mark.django_db
def test_feedback_is_recorded_on_the_trace_and_as_a_score(client, project, api_key):
    trace_id, _ = make_trace(project)

    resp = post(client, api_key, trace_id=trace_id, kind="thumbs_down", comment="wrong city", user_id="u1")

    assert resp.status_code == 201
    fb = Feedback.objects.get(trace__trace_id=trace_id)
    assert (fb.kind, fb.comment, fb.user_id) == ("thumbs_down", "wrong city", "u1")
    score = Score.objects.get(trace__trace_id=trace_id, source="feedback")
    assert score.passed is False and score.value == 0.0


@pytest.mark.django_db
def test_every_kind_of_signal_is_accepted(client, project, api_key):
    trace_id, _ = make_trace(project)
    for kind in ("thumbs_up", "comment", "edit", "copy", "escalation"):
        assert post(client, api_key, trace_id=trace_id, kind=kind, edited_output="better").status_code == 201
    assert Feedback.objects.count() == 5
    assert post(client, api_key, trace_id=trace_id, kind="meh").status_code == 422


@pytest.mark.django_db
def test_feedback_on_another_projects_trace_is_404(client, project, other_project_and_key):
    trace_id, _ = make_trace(project)
    _, other_key = other_project_and_key
    assert post(client, other_key, trace_id=trace_id, kind="thumbs_up").status_code == 404
    assert Feedback.objects.count() == 0
