import pytest

from annotations import services
from annotations.models import DEFAULT_LABELS, Annotation, QueueItem
from tests.annotations.helpers import make_queue
from tests.base import make_trace, make_user
from traces.models import Membership, Role, Trace

CONFIGS = [
    {"name": "correct", "type": "boolean"},
    {"name": "tone", "type": "categorical", "options": ["polite", "rude"]},
    {"name": "quality", "type": "numeric", "min": 1, "max": 5},
]


@pytest.fixture
def item(project):
    queue = make_queue(project, score_configs=CONFIGS)
    make_trace(project, n_llm=1)
    (item,) = services.queue_items_add(queue=queue, trace_pks=[Trace.objects.get(project=project).pk])
    return item


@pytest.mark.django_db
def test_a_review_is_stored_and_completes_the_item(item, owner):
    claimed = services.queue_item_claim(queue=item.queue, user=owner)
    services.annotation_submit(
        item=claimed,
        reviewer=owner,
        labels=["hallucination", "bad format"],
        values={"correct": False, "tone": "polite", "quality": 2},
        comment="made up a policy",
        expected_output='{"refund": false}',
    )
    a = Annotation.objects.get(item=item)
    assert (a.labels, a.values, a.comment, a.expected_output) == (
        ["hallucination", "bad format"],
        {"correct": False, "tone": "polite", "quality": 2},
        "made up a policy",
        '{"refund": false}',
    )
    stored = QueueItem.objects.get(pk=item.pk)
    assert (stored.status, stored.reviews_done, stored.claimed_by_id) == (QueueItem.Status.COMPLETED, 1, None)
    assert stored.completed_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"labels": ["not a label"]}, "unknown label"),
        ({"values": {"nope": 1}}, "unknown score"),
        ({"values": {"correct": "yes"}}, "expected true or false"),
        ({"values": {"tone": "sarcastic"}}, "is not one of polite, rude"),
        ({"values": {"quality": 6}}, "expected a number from 1 to 5"),
        ({"values": {"quality": True}}, "expected a number"),
    ],
)
def test_it_refuses_labels_and_values_that_do_not_fit(item, owner, kwargs, message):
    with pytest.raises(services.ReviewInvalid, match=message):
        services.annotation_submit(item=item, reviewer=owner, **kwargs)
    assert not Annotation.objects.exists()
    assert QueueItem.objects.get(pk=item.pk).status == QueueItem.Status.PENDING


@pytest.mark.django_db
def test_it_refuses_an_item_another_reviewer_holds_and_a_second_review(item, owner):
    other = make_user("other")
    Membership.objects.create(project=item.queue.project, user=other, role=Role.REVIEWER)
    services.queue_item_claim(queue=item.queue, user=other)
    with pytest.raises(services.ReviewInvalid, match="another reviewer"):
        services.annotation_submit(item=item, reviewer=owner)
    services.annotation_submit(item=item, reviewer=other)
    with pytest.raises(services.ReviewInvalid, match="completed"):
        services.annotation_submit(item=item, reviewer=owner)


@pytest.mark.django_db
def test_the_taxonomy_has_defaults_and_can_be_edited(project, item, owner):
    assert services.taxonomy_get(project=project) == DEFAULT_LABELS
    assert services.taxonomy_set(project=project, labels=[" wrong currency ", "hallucination", "hallucination"]) == [
        "wrong currency",
        "hallucination",
    ]
    services.annotation_submit(item=item, reviewer=owner, labels=["wrong currency"])
    assert Annotation.objects.get().labels == ["wrong currency"]
    with pytest.raises(services.ReviewInvalid, match="at least one label"):
        services.taxonomy_set(project=project, labels=[" "])


@pytest.mark.django_db
def test_queue_score_configs_are_validated(project):
    with pytest.raises(services.ReviewInvalid, match="needs options"):
        make_queue(project, score_configs=[{"name": "tone", "type": "categorical"}])
    with pytest.raises(services.ReviewInvalid, match="type must be one of"):
        make_queue(project, score_configs=[{"name": "x", "type": "stars"}])
    make_queue(project, name="ok", score_configs=CONFIGS)
    with pytest.raises(services.ReviewInvalid, match="already exists"):
        make_queue(project, name="ok")


@pytest.mark.django_db
def test_reviewers_review_but_do_not_manage_and_viewers_do_neither(project):
    people = {}
    for role in (Role.OWNER, Role.ENGINEER, Role.REVIEWER, Role.VIEWER):
        people[role] = make_user(f"u-{role}")
        Membership.objects.create(project=project, user=people[role], role=role)
    outsider = make_user("nobody")
    assert [services.can_review(project=project, user=u) for u in people.values()] == [True, True, True, False]
    assert [services.can_manage_review(project=project, user=u) for u in people.values()] == [True, True, False, False]
    assert not services.can_review(project=project, user=outsider)
