"""The queues page /p/<id>/review and a queue's page: progress, creating queues, routing rules, promotion."""

import pytest
from django.urls import reverse

from annotations import services
from annotations.models import GoldenSet, Queue, RoutingRule
from tests.annotations.helpers import agent_trace, make_queue, reviewed_item
from tests.base import make_project, make_user
from traces.models import Membership, Role


@pytest.fixture
def reviewer(db, project):
    user = make_user("rita")
    Membership.objects.create(project=project, user=user, role=Role.REVIEWER)
    return user


def list_url(project):
    return reverse("annotations:queue_list", args=[project.pk])


def test_the_list_shows_progress_per_queue_and_per_reviewer(owner_client, project, owner):
    queue = make_queue(project, "rag answers")
    reviewed_item(queue, agent_trace(project), owner, labels=["hallucination"])
    services.queue_items_add(queue=queue, trace_pks=[agent_trace(project).pk])
    html = owner_client.get(list_url(project)).content.decode()
    assert "rag answers" in html
    assert '<span class="done-total">1/2</span>' in html
    assert "owner <strong>1</strong>" in html
    assert "Start reviewing" in html


def test_the_list_queries_do_not_grow_with_items(owner_client, project, owner, django_assert_max_num_queries):
    queue = make_queue(project, "q")
    services.queue_items_add(queue=queue, trace_pks=[agent_trace(project).pk for _ in range(5)])
    with django_assert_max_num_queries(12):
        owner_client.get(list_url(project))


def test_an_owner_creates_a_queue_with_score_configs(owner_client, project):
    response = owner_client.post(reverse("annotations:queue_create", args=[project.pk]), {
        "name": "Tone check", "description": "", "reviews_per_item": "2",
        "score_configs": "correct: boolean\ntone: categorical: friendly, rude\nquality: numeric: 1-5",
    })  # fmt: skip
    queue = Queue.objects.get(project=project, name="Tone check")
    assert response.status_code == 302
    assert response["Location"] == reverse("annotations:queue_detail", args=[project.pk, queue.pk])
    assert queue.reviews_per_item == 2
    assert queue.score_configs == [
        {"name": "correct", "type": "boolean"},
        {"name": "tone", "type": "categorical", "options": ["friendly", "rude"]},
        {"name": "quality", "type": "numeric", "min": 1, "max": 5},
    ]


def test_a_bad_score_config_line_is_explained(owner_client, project):
    response = owner_client.post(reverse("annotations:queue_create", args=[project.pk]),
                                 {"name": "x", "reviews_per_item": "1", "score_configs": "tone: colour"})  # fmt: skip
    assert response.status_code == 200
    assert "Line 1: “colour” is not one of boolean, categorical, numeric." in response.content.decode()
    assert not Queue.objects.exists()


def test_a_taken_name_is_refused_on_the_form(owner_client, project):
    make_queue(project, "dup")
    response = owner_client.post(reverse("annotations:queue_create", args=[project.pk]),
                                 {"name": "dup", "reviews_per_item": "1"})  # fmt: skip
    assert "already exists" in response.content.decode()
    assert Queue.objects.filter(name="dup").count() == 1


@pytest.mark.parametrize(
    ("post", "kind", "params"),
    [
        ({"kind": "score_below", "evaluator": "faithfulness", "threshold": "0.7"}, "score_below",
         {"evaluator": "faithfulness", "threshold": 0.7}),
        ({"kind": "score_band", "evaluator": "rubric", "low": "0.4", "high": "0.6"}, "score_band",
         {"evaluator": "rubric", "low": 0.4, "high": 0.6}),
        ({"kind": "sample", "rate": "5"}, "sample", {"rate": 0.05}),
        ({"kind": "thumbs_down"}, "thumbs_down", {}),
        ({"kind": "finding", "detector": "runaway_loop"}, "finding", {"detector": "runaway_loop"}),
    ],
)  # fmt: skip
def test_an_owner_adds_routing_rules(owner_client, project, post, kind, params):
    queue = make_queue(project, "q")
    response = owner_client.post(reverse("annotations:routing_rule_create", args=[project.pk, queue.pk]), post)
    assert response.status_code == 302
    rule = RoutingRule.objects.get(queue=queue)
    assert (rule.kind, rule.params) == (kind, params)


def test_a_score_rule_without_threshold_is_refused(owner_client, project):
    queue = make_queue(project, "q")
    response = owner_client.post(reverse("annotations:routing_rule_create", args=[project.pk, queue.pk]),
                                 {"kind": "score_below", "evaluator": "faithfulness"})  # fmt: skip
    assert response.status_code == 200
    assert "Required for this kind of rule." in response.content.decode()
    assert not RoutingRule.objects.exists()


def test_the_queue_page_groups_near_duplicates_before_promotion(owner_client, project, owner):
    queue = make_queue(project, "q")
    a = reviewed_item(queue, agent_trace(project), owner, labels=["hallucination"])
    b = reviewed_item(queue, agent_trace(project), owner, labels=["hallucination"])  # same input and output
    c = reviewed_item(queue, agent_trace(project, question="Cancel my plan", answer="Done, I deleted your account."),
                      owner, labels=["refusal"])  # fmt: skip
    html = owner_client.get(reverse("annotations:queue_detail", args=[project.pk, queue.pk])).content.decode()
    assert html.count('class="group"') == 2
    assert f'name="items" value="{a.pk}" checked' in html
    assert f'name="items" value="{b.pk}"' in html and f'name="items" value="{b.pk}" checked' not in html
    assert f'name="items" value="{c.pk}" checked' in html
    assert "near-duplicate" in html


def test_promoting_ticked_items_writes_a_version(owner_client, project, owner):
    queue = make_queue(project, "q")
    item = reviewed_item(queue, agent_trace(project), owner, labels=["hallucination"], expected_output="30 days")
    golden = services.golden_set_create(project=project, name="g")
    response = owner_client.post(reverse("annotations:queue_promote", args=[project.pk, queue.pk]),
                                 {"golden_set": golden.pk, "items": [item.pk]})  # fmt: skip
    assert response.status_code == 302
    (case,) = GoldenSet.objects.get(pk=golden.pk).versions.get().items.all()
    assert case.source_trace_id == item.trace.trace_id and case.expected_output == "30 days"


def test_a_reviewer_reads_but_cannot_create_or_route(client, project, reviewer):
    queue = make_queue(project, "q")
    client.force_login(reviewer)
    html = client.get(list_url(project)).content.decode()
    assert "q" in html and "New queue" not in html
    page = client.get(reverse("annotations:queue_detail", args=[project.pk, queue.pk])).content.decode()
    assert "Add rule" not in page
    assert client.post(reverse("annotations:queue_create", args=[project.pk]),
                       {"name": "mine", "reviews_per_item": "1"}).status_code == 404  # fmt: skip
    assert client.post(reverse("annotations:routing_rule_create", args=[project.pk, queue.pk]),
                       {"kind": "thumbs_down"}).status_code == 404  # fmt: skip
    assert list(Queue.objects.values_list("name", flat=True)) == ["q"]
    assert not RoutingRule.objects.exists()


def test_a_viewer_cannot_promote(client, project, owner):
    queue = make_queue(project, "q")
    item = reviewed_item(queue, agent_trace(project), owner, labels=["hallucination"])
    golden = services.golden_set_create(project=project, name="g")
    viewer = make_user("vic")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    url = reverse("annotations:queue_promote", args=[project.pk, queue.pk])
    assert client.post(url, {"golden_set": golden.pk, "items": [item.pk]}).status_code == 404
    assert not golden.versions.exists()


def test_outsider_gets_404(client, project, outsider):
    queue = make_queue(project, "q")
    make_project("elsewhere", owner=outsider)
    client.force_login(outsider)
    assert client.get(list_url(project)).status_code == 404
    assert client.get(reverse("annotations:queue_detail", args=[project.pk, queue.pk])).status_code == 404
    assert client.post(reverse("annotations:queue_create", args=[project.pk]), {"name": "x"}).status_code == 404
    assert client.post(reverse("annotations:routing_rule_create", args=[project.pk, queue.pk]),
                       {"kind": "thumbs_down"}).status_code == 404  # fmt: skip
    assert client.post(reverse("annotations:queue_promote", args=[project.pk, queue.pk]), {}).status_code == 404


def test_anonymous_is_sent_to_login(client, project):
    response = client.get(list_url(project))
    assert response.status_code == 302 and response["Location"].startswith("/login/")
