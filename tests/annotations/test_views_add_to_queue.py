"""Adding traces to a queue by hand: the picker on the trace list and the trace page, one or in bulk."""

import pytest
from django.urls import reverse

from annotations.models import QueueItem
from tests.annotations.helpers import agent_trace, make_queue
from tests.base import make_project, make_user
from traces.models import Membership, Role


@pytest.fixture
def queue(project):
    return make_queue(project, "by hand")


def test_the_trace_list_and_page_load_the_picker(owner_client, project, queue):
    trace = agent_trace(project)
    list_html = owner_client.get(reverse("traces:trace_list", args=[project.pk])).content.decode()
    assert reverse("annotations:queue_picker", args=[project.pk]) + "?bulk=1" in list_html
    assert f'name="trace_ids" value="{trace.trace_id}" form="add-to-queue-bulk"' in list_html
    page_html = owner_client.get(reverse("traces:trace_detail", args=[project.pk, trace.trace_id])).content.decode()
    assert reverse("annotations:queue_picker", args=[project.pk]) + f"?trace={trace.trace_id}" in page_html


def test_the_picker_offers_the_projects_queues(owner_client, project, queue):
    url = reverse("annotations:queue_picker", args=[project.pk])
    bulk = owner_client.get(url, {"bulk": "1", "next": "/x"}).content.decode()
    assert 'id="add-to-queue-bulk"' in bulk and "Add selected to queue" in bulk
    assert f'<option value="{queue.pk}">by hand</option>' in bulk
    single = owner_client.get(url, {"trace": "ab" * 16}).content.decode()
    assert f'name="trace_ids" value="{"ab" * 16}"' in single and "Add to queue" in single


def test_bulk_add_queues_the_ticked_traces_once(owner_client, project, queue):
    traces = [agent_trace(project) for _ in range(3)]
    url = reverse("annotations:queue_add", args=[project.pk])
    back = reverse("traces:trace_list", args=[project.pk]) + "?status=error"
    response = owner_client.post(url, {"queue": queue.pk, "trace_ids": [t.trace_id for t in traces[:2]], "next": back})
    assert response.status_code == 302 and response["Location"] == back
    owner_client.post(url, {"queue": queue.pk, "trace_ids": [t.trace_id for t in traces]})
    items = QueueItem.objects.filter(queue=queue)
    assert sorted(items.values_list("trace__trace_id", flat=True)) == sorted(t.trace_id for t in traces)
    assert set(items.values_list("reason", flat=True)) == {"manual"}


def test_a_reviewer_may_add_traces(client, project, queue):
    user = make_user("rita")
    Membership.objects.create(project=project, user=user, role=Role.REVIEWER)
    trace = agent_trace(project)
    client.force_login(user)
    client.post(reverse("annotations:queue_add", args=[project.pk]), {"queue": queue.pk, "trace_ids": [trace.trace_id]})
    assert QueueItem.objects.filter(queue=queue, trace=trace).exists()


def test_a_trace_or_queue_of_another_project_is_not_added(owner_client, project, queue, outsider):
    other, _ = make_project("elsewhere", owner=outsider)
    foreign_trace = agent_trace(other)
    foreign_queue = make_queue(other, "theirs")
    url = reverse("annotations:queue_add", args=[project.pk])
    owner_client.post(url, {"queue": queue.pk, "trace_ids": [foreign_trace.trace_id]})
    response = owner_client.post(url, {"queue": foreign_queue.pk, "trace_ids": [agent_trace(project).trace_id]})
    assert response.status_code == 302  # an unknown queue is a form error, shown on the page it came from
    assert not QueueItem.objects.exists()


def test_an_open_redirect_is_not_followed(owner_client, project, queue):
    trace = agent_trace(project)
    response = owner_client.post(reverse("annotations:queue_add", args=[project.pk]),
                                 {"queue": queue.pk, "trace_ids": [trace.trace_id], "next": "https://evil.example/"})  # fmt: skip
    assert response["Location"] == reverse("traces:trace_list", args=[project.pk])


def test_a_viewer_gets_an_empty_picker_and_cannot_add(client, project, queue):
    viewer = make_user("vic")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    picker = client.get(reverse("annotations:queue_picker", args=[project.pk]), {"bulk": "1"})
    assert picker.status_code == 200 and b"<form" not in picker.content
    trace = agent_trace(project)
    response = client.post(reverse("annotations:queue_add", args=[project.pk]),
                           {"queue": queue.pk, "trace_ids": [trace.trace_id]})  # fmt: skip
    assert response.status_code == 404 and not QueueItem.objects.exists()


def test_outsider_gets_404(client, project, queue, outsider):
    make_project("elsewhere", owner=outsider)
    client.force_login(outsider)
    trace = agent_trace(project)
    assert client.get(reverse("annotations:queue_picker", args=[project.pk])).status_code == 404
    response = client.post(reverse("annotations:queue_add", args=[project.pk]),
                           {"queue": queue.pk, "trace_ids": [trace.trace_id]})  # fmt: skip
    assert response.status_code == 404 and not QueueItem.objects.exists()
