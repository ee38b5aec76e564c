"""The review page /p/<id>/review/<queue>/next and /p/<id>/review/items/<item>: claim, show, annotate, promote."""

import pytest
from django.urls import reverse

from annotations import services
from annotations.models import Annotation, GoldenSet, QueueItem
from tests.annotations.helpers import DOCS, QUESTION, agent_trace, make_queue
from tests.base import make_project, make_trace, make_user
from traces.models import Membership, Role


@pytest.fixture
def reviewer(db, project):
    user = make_user("rita")
    Membership.objects.create(project=project, user=user, role=Role.REVIEWER)
    return user


@pytest.fixture
def queue(project):
    return make_queue(project, "rag answers", score_configs=[
        {"name": "correct", "type": "boolean"},
        {"name": "tone", "type": "categorical", "options": ["friendly", "rude"]},
        {"name": "quality", "type": "numeric", "min": 1, "max": 5},
    ])  # fmt: skip


@pytest.fixture
def items(project, queue):
    traces = [agent_trace(project), agent_trace(project, question="Where is my parcel 77?")]
    return services.queue_items_add(queue=queue, trace_pks=[t.pk for t in traces])


def item_url(project, item):
    return reverse("annotations:review_item", args=[project.pk, item.pk])


def test_next_claims_the_first_item_for_the_reviewer(client, project, queue, items, reviewer):
    client.force_login(reviewer)
    response = client.get(reverse("annotations:review_next", args=[project.pk, queue.pk]))
    assert response.status_code == 302
    assert response["Location"] == item_url(project, items[0])
    claimed = QueueItem.objects.get(pk=items[0].pk)
    assert claimed.claimed_by == reviewer and claimed.claim_expires_at is not None


def test_the_page_shows_the_whole_trace_and_the_form(client, project, queue, items, reviewer):
    client.force_login(reviewer)
    html = client.get(item_url(project, items[0])).content.decode()
    assert QUESTION in html  # input
    assert "Yes, refunds are accepted within 90 days" in html  # output
    assert DOCS[0] in html  # retrieved context
    assert "lookup_order" in html  # tool steps
    assert 'class="wf-row' in html and 'id="span-panel"' in html  # the trace page's waterfall and span detail
    assert 'data-key="1"' in html and "hallucination" in html  # the taxonomy's labels with digits
    assert 'name="value__correct"' in html and 'name="value__quality"' in html
    assert 'name="expected_output"' in html
    assert "item 1 of 2" in html and "0/2 done" in html
    assert 'data-nav="next"' in html and 'data-nav="prev"' not in html  # j / k
    assert "review.js" in html


def test_submitting_stores_the_annotation_and_opens_the_next_item(client, project, queue, items, reviewer):
    client.force_login(reviewer)
    client.get(reverse("annotations:review_next", args=[project.pk, queue.pk]))
    response = client.post(item_url(project, items[0]), {
        "labels": ["hallucination", "context loss"], "value__correct": "no", "value__tone": "friendly",
        "value__quality": "2", "comment": "made up 90 days", "expected_output": "Within 30 days, to your card.",
    })  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == item_url(project, items[1])
    annotation = Annotation.objects.get(item=items[0])
    assert annotation.reviewer == reviewer
    assert annotation.labels == ["hallucination", "context loss"]
    assert annotation.values == {"correct": False, "tone": "friendly", "quality": 2}
    assert annotation.expected_output == "Within 30 days, to your card."
    assert QueueItem.objects.get(pk=items[0].pk).status == QueueItem.Status.COMPLETED
    assert QueueItem.objects.get(pk=items[1].pk).claimed_by == reviewer


def test_htmx_submit_swaps_in_the_next_item_and_pushes_its_url(client, project, queue, items, reviewer):
    client.force_login(reviewer)
    response = client.post(item_url(project, items[0]), {"labels": ["refusal"]}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Push-Url"] == item_url(project, items[1])
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="review"') and "<html" not in html
    assert f'data-item="{items[1].pk}"' in html


def test_after_the_last_item_the_page_says_the_queue_is_done(client, project, queue, items, reviewer):
    client.force_login(reviewer)
    for item in items:
        client.post(item_url(project, item), {"labels": []})
    response = client.get(reverse("annotations:review_next", args=[project.pk, queue.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nothing left for you in" in html and "2/2 done" in html
    assert "rita" in html  # progress per reviewer


def test_promote_writes_a_golden_version_with_the_case(client, project, queue, items, reviewer):
    golden = services.golden_set_create(project=project, name="refunds")
    client.force_login(reviewer)
    client.post(item_url(project, items[0]), {
        "labels": ["hallucination"], "expected_output": "Within 30 days.", "promote": "on", "golden_set": golden.pk,
    })  # fmt: skip
    version = GoldenSet.objects.get(pk=golden.pk).versions.get()
    (case,) = version.items.all()
    assert case.source_trace_id == items[0].trace.trace_id
    assert case.expected_output == "Within 30 days." and case.labels == ["hallucination"]
    assert [d["content"] for d in case.context] == DOCS


def test_invalid_values_are_shown_on_the_form_and_nothing_is_stored(client, project, queue, items, reviewer):
    client.force_login(reviewer)
    response = client.post(item_url(project, items[0]), {"value__quality": "9", "labels": ["not a label"]})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Annotation.objects.exists()


def test_an_item_already_reviewed_shows_the_review_not_the_form(client, project, queue, items, reviewer):
    client.force_login(reviewer)
    client.post(item_url(project, items[0]), {"labels": ["refusal"]})
    html = client.get(item_url(project, items[0])).content.decode()
    assert "You reviewed this item" in html and 'class="review-form' not in html


def test_j_k_links_follow_queue_order(client, project, queue, items, reviewer):
    client.force_login(reviewer)
    html = client.get(item_url(project, items[1]), HTTP_HX_REQUEST="true").content.decode()
    assert f'data-nav="prev" href="{item_url(project, items[0])}"' in html
    assert 'data-nav="next"' not in html


def test_span_detail_stays_on_the_review_page(client, project, queue, items, reviewer):
    client.force_login(reviewer)
    span = items[0].trace.spans.get(name="retrieve")
    url = reverse("annotations:review_span", args=[project.pk, items[0].pk, span.span_id])
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and f'data-span="{span.span_id}"' in response.content.decode()
    assert "HX-Push-Url" not in response


def test_skip_takes_the_item_out_and_opens_the_next(client, project, queue, items, reviewer):
    client.force_login(reviewer)
    response = client.post(reverse("annotations:review_skip", args=[project.pk, items[0].pk]))
    assert response.status_code == 302
    assert QueueItem.objects.get(pk=items[0].pk).status == QueueItem.Status.SKIPPED


def test_a_viewer_cannot_review(client, project, queue, items):
    viewer = make_user("vic")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    assert client.get(reverse("annotations:review_next", args=[project.pk, queue.pk])).status_code == 404
    assert client.post(item_url(project, items[0]), {"labels": []}).status_code == 404


def test_outsider_gets_404(client, project, queue, items, outsider):
    make_project("elsewhere", owner=outsider)
    client.force_login(outsider)
    assert client.get(reverse("annotations:review_next", args=[project.pk, queue.pk])).status_code == 404
    assert client.get(item_url(project, items[0])).status_code == 404
    assert client.post(item_url(project, items[0]), {"labels": []}).status_code == 404
    assert client.post(reverse("annotations:review_skip", args=[project.pk, items[0].pk])).status_code == 404
    assert not Annotation.objects.exists()


def test_an_item_of_another_project_is_404_even_for_a_member(client, project, reviewer, outsider):
    other, _ = make_project("other", owner=outsider)
    trace_id, _ = make_trace(other)
    other_queue = make_queue(other, "theirs")
    (item,) = services.queue_items_add(queue=other_queue, trace_pks=[other.traces.get(trace_id=trace_id).pk])
    client.force_login(reviewer)
    assert client.get(reverse("annotations:review_item", args=[project.pk, item.pk])).status_code == 404
