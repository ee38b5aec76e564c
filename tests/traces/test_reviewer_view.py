"""A reviewer sees traces through the review queues only, unless the project lets reviewers browse."""

import pytest
from django.urls import reverse

from annotations import services
from tests.annotations.helpers import make_queue
from tests.base import make_trace, make_user
from traces.models import Membership, Role


@pytest.fixture
def rita_client(client, project):
    rita = make_user("rita")
    Membership.objects.create(project=project, user=rita, role=Role.REVIEWER)
    client.force_login(rita)
    return client


@pytest.mark.django_db
def test_a_reviewer_sees_only_queued_traces_by_default(rita_client, project):
    queued, _ = make_trace(project, n_llm=1)
    other, _ = make_trace(project, n_llm=1)
    services.queue_items_add(queue=make_queue(project), trace_pks=[project.traces.get(trace_id=queued).pk])
    for name in ("traces:trace_list", "traces:session_list", "insights:dashboards", "evals:rule_list"):
        assert rita_client.get(reverse(name, args=[project.pk])).status_code == 404, name
    assert rita_client.get(reverse("traces:project_home", args=[project.pk]))["Location"] == reverse(
        "annotations:queue_list", args=[project.pk]
    )
    assert rita_client.get(reverse("traces:trace_detail", args=[project.pk, queued])).status_code == 200
    assert rita_client.get(reverse("traces:trace_detail", args=[project.pk, other])).status_code == 404
    html = rita_client.get(reverse("annotations:queue_list", args=[project.pk])).content.decode()
    assert ">Traces</a>" not in html and ">Review</a>" in html  # no explorer tab


@pytest.mark.django_db
def test_the_project_setting_lets_reviewers_browse(rita_client, project, owner):
    other, _ = make_trace(project, n_llm=1)
    owner_client = rita_client.__class__()
    owner_client.force_login(owner)
    owner_client.post(reverse("traces:access_settings", args=[project.pk]), {"reviewers_see_explorer": "1"})
    project.refresh_from_db()
    assert project.reviewers_see_explorer
    assert rita_client.get(reverse("traces:trace_list", args=[project.pk])).status_code == 200
    assert rita_client.get(reverse("traces:trace_detail", args=[project.pk, other])).status_code == 200
