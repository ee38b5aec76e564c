import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from annotations import services
from annotations.models import QueueItem
from tests.annotations.helpers import make_queue
from tests.base import make_trace, make_user
from traces.models import Membership, Role, Trace


def queue_with_items(project, n: int, **kw):
    queue = make_queue(project, **kw)
    for _ in range(n):
        make_trace(project, n_llm=1)
    services.queue_items_add(queue=queue, trace_pks=Trace.objects.filter(project=project).values_list("pk", flat=True))
    return queue


def reviewer(project, name):
    user = make_user(name)
    Membership.objects.create(project=project, user=user, role=Role.REVIEWER)
    return user


@pytest.mark.django_db(transaction=True)
def test_concurrent_reviewers_never_get_the_same_item(project):
    on_postgres = connection.vendor == "postgresql"
    n_threads, n_items = (8, 20) if on_postgres else (2, 6)
    queue = queue_with_items(project, n_items)
    users = [reviewer(project, f"rev{i}") for i in range(n_threads)]
    served: list[tuple[int, int]] = []  # (item pk, reviewer pk), in claim order
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(n_threads)

    def work(user):
        try:
            start.wait()  # everyone asks at the same moment
            while True:
                item = services.queue_item_claim(queue=queue, user=user)
                if item is None:
                    return
                with lock:
                    served.append((item.pk, user.pk))
                services.annotation_submit(item=item, reviewer=user, labels=[])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    items = [pk for pk, _ in served]
    assert sorted(items) == sorted(QueueItem.objects.filter(queue=queue).values_list("pk", flat=True))  # each once
    assert len({pk for pk, _ in served}) == len(served) == n_items
    assert QueueItem.objects.filter(queue=queue, status=QueueItem.Status.COMPLETED, reviews_done=1).count() == n_items
    if on_postgres:
        assert len({user for _, user in served}) > 1  # the work was actually shared


@pytest.mark.django_db
def test_a_reviewer_gets_back_the_item_they_hold(project, owner):
    queue = queue_with_items(project, 3)
    first = services.queue_item_claim(queue=queue, user=owner)
    again = services.queue_item_claim(queue=queue, user=owner)
    assert again.pk == first.pk
    stored = QueueItem.objects.get(pk=first.pk)
    assert stored.claimed_by == owner and stored.claim_expires_at > timezone.now()


@pytest.mark.django_db
def test_a_claimed_item_is_not_offered_to_another_reviewer_until_its_claim_expires(project, owner):
    other = reviewer(project, "other")
    queue = queue_with_items(project, 1, claim_seconds=60)
    mine = services.queue_item_claim(queue=queue, user=owner)
    assert services.queue_item_claim(queue=queue, user=other) is None
    QueueItem.objects.filter(pk=mine.pk).update(claim_expires_at=timezone.now() - timedelta(seconds=1))
    taken = services.queue_item_claim(queue=queue, user=other)
    assert taken.pk == mine.pk
    assert QueueItem.objects.get(pk=mine.pk).claimed_by == other


@pytest.mark.django_db
def test_release_gives_the_item_back(project, owner):
    other = reviewer(project, "other")
    queue = queue_with_items(project, 1)
    item = services.queue_item_claim(queue=queue, user=owner)
    services.queue_item_release(item=item, user=other)  # not theirs: nothing happens
    assert QueueItem.objects.get(pk=item.pk).claimed_by == owner
    services.queue_item_release(item=item, user=owner)
    assert QueueItem.objects.get(pk=item.pk).claimed_by is None
    assert services.queue_item_claim(queue=queue, user=other).pk == item.pk


@pytest.mark.django_db
def test_skip_takes_the_item_out_of_the_queue(project, owner):
    queue = queue_with_items(project, 1)
    item = services.queue_item_claim(queue=queue, user=owner)
    services.queue_item_skip(item=item, user=owner)
    assert QueueItem.objects.get(pk=item.pk).status == QueueItem.Status.SKIPPED
    assert services.queue_item_claim(queue=queue, user=owner) is None


@pytest.mark.django_db
def test_n_reviews_per_item_go_to_n_different_reviewers(project, owner):
    second, third = reviewer(project, "second"), reviewer(project, "third")
    queue = queue_with_items(project, 1, reviews_per_item=2)
    item = services.queue_item_claim(queue=queue, user=owner)
    services.annotation_submit(item=item, reviewer=owner, labels=["other"])
    stored = QueueItem.objects.get(pk=item.pk)
    assert (stored.status, stored.reviews_done, stored.claimed_by) == (QueueItem.Status.PENDING, 1, None)
    assert services.queue_item_claim(queue=queue, user=owner) is None  # never the item they annotated
    again = services.queue_item_claim(queue=queue, user=second)
    assert again.pk == item.pk
    services.annotation_submit(item=again, reviewer=second, labels=[])
    stored.refresh_from_db()
    assert (stored.status, stored.reviews_done) == (QueueItem.Status.COMPLETED, 2)
    assert services.queue_item_claim(queue=queue, user=third) is None
