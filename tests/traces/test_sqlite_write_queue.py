"""On SQLite, write transactions take turns (traces/write_queue.py): one at a time per process, one process at a
time through an flock on `<database>-writelock`, held from BEGIN to COMMIT/ROLLBACK. A receiver whose turn does
not come within the busy timeout answers 503 + Retry-After, like any lock timeout."""

import fcntl
import os
import secrets
import time

import pytest
from django.db import connection, transaction

from tests.otlp_payloads import pb_request, pb_span
from traces.models import Span

PB = "application/x-protobuf"

pytestmark = [
    pytest.mark.laptop,
    pytest.mark.skipif(os.environ.get("PEEKR_DATABASE_URL", "").startswith("postgres"), reason="SQLite's write queue"),
]


def lock_path() -> str:
    return str(connection.settings_dict["NAME"]) + "-writelock"


def held_by_someone_else(path: str) -> bool:
    """Whether another open file (another process, or another thread's transaction) holds the write turn."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@pytest.mark.django_db(transaction=True)
def test_a_write_transaction_holds_the_turn_from_begin_to_commit(project):
    path = lock_path()
    assert not held_by_someone_else(path)
    with transaction.atomic():
        Span.objects.filter(project=project).update(name="x")
        assert held_by_someone_else(path)
        with transaction.atomic():  # a savepoint takes nothing more
            assert held_by_someone_else(path)
    assert not held_by_someone_else(path)
    with pytest.raises(RuntimeError), transaction.atomic():
        raise RuntimeError("rolled back")
    assert not held_by_someone_else(path)


@pytest.mark.django_db(transaction=True)
def test_an_export_whose_turn_never_comes_gets_503_with_retry_after(client, project, api_key, settings):
    """Another process (here: this test, through the lock file) writes for longer than the busy timeout."""
    settings.PEEKR_INGEST_RETRY_AFTER_SECONDS = 7
    options = connection.settings_dict["OPTIONS"]
    saved = options.get("timeout")
    options["timeout"] = 0.3
    fd = os.open(lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    body = pb_request([pb_span(trace_id=trace_id, span_id=span_id)]).SerializeToString()
    try:
        began = time.monotonic()
        resp = client.post("/v1/traces", data=body, content_type=PB, HTTP_AUTHORIZATION=f"Bearer {api_key}")
        waited = time.monotonic() - began
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        options["timeout"] = saved

    assert resp.status_code == 503 and resp["Retry-After"] == "7"
    assert waited >= 0.3
    assert not Span.objects.filter(project=project, span_id=span_id).exists()
    # Once the other writer is done, the exporter's retry lands.
    resp = client.post("/v1/traces", data=body, content_type=PB, HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert resp.status_code == 200
    assert Span.objects.filter(project=project, span_id=span_id).exists()


@pytest.mark.django_db(transaction=True)
def test_writers_are_served_in_order_of_arrival_and_a_ticket_left_behind_is_skipped(project):
    """Tickets: a writer waits for the ones that came before it. One drawn by a process that died before its turn
    (drawn here, never used) holds the others up for a moment only."""
    from traces import write_queue

    queue = write_queue._queue(str(connection.settings_dict["NAME"]))
    _, qfd = queue.files()
    abandoned = write_queue._draw(qfd)
    began = time.monotonic()
    with transaction.atomic():
        Span.objects.filter(project=project).update(name="after the abandoned ticket")
    waited = time.monotonic() - began
    next_ticket, serving = write_queue._tickets(qfd)

    assert serving == next_ticket > abandoned + 1  # served: the abandoned ticket, then this writer's
    assert write_queue.SKIP_AFTER <= waited < 5
