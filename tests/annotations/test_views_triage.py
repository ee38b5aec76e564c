"""Weekly triage /p/<id>/triage: the week's worst-scoring traces, one click from a queue or a golden set."""

import time

import pytest
from django.urls import reverse

from annotations import services
from annotations.models import QueueItem
from evals.models import Score
from tests.annotations.helpers import agent_trace, make_queue
from tests.base import make_project, make_trace, make_user
from traces.models import Membership, Role, Trace


def scored(trace, value, passed):
    Score.objects.create(project_id=trace.project_id, trace=trace, target_key=f"trace:{trace.pk}",
                         evaluator="faithfulness", source=Score.Source.JUDGE, status=Score.Status.DONE,
                         value=value, passed=passed)  # fmt: skip


@pytest.fixture
def week(project):
    worst = agent_trace(project, question="Worst question?")
    scored(worst, 0.1, False)
    fine = agent_trace(project, question="Fine question?")
    scored(fine, 0.95, True)
    old_id, _ = make_trace(project, name="last month", start=time.time() - 30 * 86400)
    scored(Trace.objects.get(trace_id=old_id), 0.0, False)
    return worst, fine


def test_it_lists_the_weeks_worst_first_with_one_click_targets(owner_client, project, week):
    worst, fine = week
    queue = make_queue(project, "triage q")
    services.golden_set_create(project=project, name="triage g")
    html = owner_client.get(reverse("annotations:triage", args=[project.pk])).content.decode()
    assert html.index(worst.trace_id) < html.index(fine.trace_id)
    assert "last month" not in html
    assert html.count('class="add-to-queue"') == 2 and html.count('class="promote-trace"') == 2
    assert f'<option value="{queue.pk}">triage q</option>' in html


def test_add_and_promote_from_triage(owner_client, project, week):
    worst, _ = week
    queue = make_queue(project, "q")
    golden = services.golden_set_create(project=project, name="g")
    back = reverse("annotations:triage", args=[project.pk])
    response = owner_client.post(reverse("annotations:queue_add", args=[project.pk]),
                                 {"queue": queue.pk, "trace_ids": [worst.trace_id], "next": back})  # fmt: skip
    assert response["Location"] == back
    assert QueueItem.objects.filter(queue=queue, trace=worst).exists()
    response = owner_client.post(reverse("annotations:golden_promote_trace", args=[project.pk]),
                                 {"golden_set": golden.pk, "trace_id": worst.trace_id, "next": back})  # fmt: skip
    assert response["Location"] == back
    assert golden.versions.get().items.get().source_trace_id == worst.trace_id
    html = owner_client.get(back).content.decode()
    assert f'<option value="{queue.pk}">q ✓</option>' in html  # already queued


def test_a_reviewer_can_act_a_viewer_only_reads(client, project, week):
    make_queue(project, "q")
    reviewer, viewer = make_user("rita"), make_user("vic")
    Membership.objects.create(project=project, user=reviewer, role=Role.REVIEWER)
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    client.force_login(reviewer)
    # Triage lists any trace of the project: a reviewer sees it only where reviewers may browse (traces.access).
    assert client.get(reverse("annotations:triage", args=[project.pk])).status_code == 404
    project.reviewers_see_explorer = True
    project.save()
    assert 'class="add-to-queue"' in client.get(reverse("annotations:triage", args=[project.pk])).content.decode()
    client.force_login(viewer)
    html = client.get(reverse("annotations:triage", args=[project.pk])).content.decode()
    assert week[0].trace_id in html and 'class="add-to-queue"' not in html


def test_outsider_gets_404(client, project, week, outsider):
    golden = services.golden_set_create(project=project, name="g")
    make_project("elsewhere", owner=outsider)
    client.force_login(outsider)
    assert client.get(reverse("annotations:triage", args=[project.pk])).status_code == 404
    response = client.post(reverse("annotations:golden_promote_trace", args=[project.pk]),
                           {"golden_set": golden.pk, "trace_id": week[0].trace_id})  # fmt: skip
    assert response.status_code == 404 and not golden.versions.exists()
