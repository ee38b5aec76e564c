"""Editing the project's failure labels on the review page (/p/<id>/review/labels)."""

import pytest
from django.urls import reverse

from annotations import services
from tests.annotations.helpers import agent_trace, make_queue
from tests.base import make_user
from traces.models import Membership, Role

pytestmark = pytest.mark.django_db


def labels_url(project):
    return reverse("annotations:taxonomy_update", args=[project.pk])


def test_a_manager_sees_the_default_labels_and_replaces_them(owner_client, project):
    html = owner_client.get(reverse("annotations:queue_list", args=[project.pk])).content.decode()
    assert "Failure labels" in html and "hallucination\nwrong tool call" in html

    response = owner_client.post(
        labels_url(project), {"labels": " stale answer \nhallucination\n\nhallucination\nrude"}
    )

    assert response.status_code == 302
    assert services.taxonomy_get(project=project) == ["stale answer", "hallucination", "rude"]
    page = owner_client.get(response["Location"]).content.decode()
    assert "Failure labels saved: stale answer, hallucination, rude." in page


def test_the_review_page_offers_the_edited_labels_with_their_keys(owner_client, project, owner):
    services.taxonomy_set(project=project, labels=["stale answer", "rude"])
    queue = make_queue(project, "q")
    services.queue_items_add(queue=queue, trace_pks=[agent_trace(project).pk])

    response = owner_client.get(reverse("annotations:review_next", args=[project.pk, queue.pk]), follow=True)

    html = response.content.decode()
    assert "stale answer" in html and "rude" in html and "hallucination" not in html


def test_an_empty_list_is_refused_with_a_reason_and_nothing_changes(owner_client, project):
    services.taxonomy_set(project=project, labels=["kept"])

    response = owner_client.post(labels_url(project), {"labels": " \n \n"})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert services.taxonomy_get(project=project) == ["kept"]


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.VIEWER])
def test_reviewers_and_viewers_see_the_labels_but_cannot_change_them(client, project, role):
    user = make_user(f"user-{role}")
    Membership.objects.create(project=project, user=user, role=role)
    client.force_login(user)

    html = client.get(reverse("annotations:queue_list", args=[project.pk])).content.decode()
    assert '<span class="chip">hallucination</span>' in html and "Save labels" not in html
    assert client.post(labels_url(project), {"labels": "mine"}).status_code == 404
    assert services.taxonomy_get(project=project)[0] == "hallucination"


def test_an_outsider_gets_404(client, project, outsider):
    client.force_login(outsider)
    assert client.post(labels_url(project), {"labels": "x"}).status_code == 404
