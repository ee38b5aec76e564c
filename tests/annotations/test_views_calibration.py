"""Calibration /p/<id>/calibration: per evaluator sample, agreement, kappa, confusion, and gate standing."""

import pytest
from django.urls import reverse

from annotations import services
from evals.models import Score
from tests.annotations.helpers import agent_trace, make_queue, reviewed_item
from tests.base import make_project, make_user
from traces.models import Membership, Role


def judged(trace, *, passed, value):
    Score.objects.create(project_id=trace.project_id, trace=trace, target_key=f"trace:{trace.pk}",
                         evaluator="faithfulness", source=Score.Source.JUDGE, status=Score.Status.DONE,
                         value=value, passed=passed)  # fmt: skip


@pytest.fixture
def calibrated(project, owner):
    queue = make_queue(project, "q")
    # 4 reviewed traces: the judge agrees on 3 (two failures, one pass), disagrees on 1.
    for auto, human_labels in [
        (False, ["hallucination"]),
        (False, ["hallucination"]),
        (True, []),
        (True, ["hallucination"]),
    ]:
        trace = agent_trace(project)
        judged(trace, passed=auto, value=0.9 if auto else 0.2)
        reviewed_item(queue, trace, owner, labels=human_labels)
    return queue


def row_of(html: str, evaluator: str) -> str:
    return html.split(f'data-evaluator="{evaluator}"')[1].split('class="cal-row"')[0].split("</tbody>")[0]


def test_it_shows_agreement_kappa_and_the_confusion_matrix(owner_client, project, calibrated):
    html = owner_client.get(reverse("annotations:calibration", args=[project.pk])).content.decode()
    row = row_of(html, "faithfulness")
    assert '<td class="num">4</td>' in row
    assert "75%" in row
    assert "not enough items" in row and "0.50" not in row  # kappa (0.50 here) needs 10 items (KAPPA_MIN_ITEMS)
    assert '<td class="agree">2</td><td class="disagree">0</td>' in row
    assert '<td class="disagree">1</td><td class="agree">1</td>' in row
    assert "needs 46 more labelled item(s) and agreement 75.0% &lt; 85%" in row


def test_an_evaluator_with_enough_agreeing_items_is_a_gate(owner_client, project, owner):
    queue = make_queue(project, "big")
    for _ in range(50):
        trace = agent_trace(project)
        judged(trace, passed=False, value=0.1)
        reviewed_item(queue, trace, owner, labels=["hallucination"])
    row = row_of(owner_client.get(reverse("annotations:calibration", args=[project.pk])).content.decode(),
                 "faithfulness")  # fmt: skip
    assert 'class="gate ok"' in row and "usable as a blocking gate (50 items, 100.0% agreement)" in row


def test_a_reviewer_reads_it(client, project, calibrated):
    user = make_user("rita")
    Membership.objects.create(project=project, user=user, role=Role.REVIEWER)
    client.force_login(user)
    assert client.get(reverse("annotations:calibration", args=[project.pk])).status_code == 200


def test_outsider_gets_404(client, project, outsider):
    services.taxonomy_get(project=project)
    make_project("elsewhere", owner=outsider)
    client.force_login(outsider)
    assert client.get(reverse("annotations:calibration", args=[project.pk])).status_code == 404
