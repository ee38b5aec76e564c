"""One open regression per (project, source, key, release): repeats add to it, and the database refuses a second
open row even when the service is bypassed."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from regressions.models import Regression
from tests.base import make_regression


@pytest.mark.django_db
def test_repeats_add_traces_to_the_open_one(project):
    first = make_regression(project, trace_ids=["a" * 32, "b" * 32])
    for i in range(5):
        make_regression(project, trace_ids=[f"{i}" * 32])
    assert Regression.objects.count() == 1
    first.refresh_from_db()
    assert first.occurrences == 6 and first.trace_ids[:2] == ["4" * 32, "3" * 32] and len(first.trace_ids) == 7
    # another release, or another evaluator, is another regression
    make_regression(project, release="2.1.0")
    make_regression(project, key="evaluator:pii")
    assert Regression.objects.count() == 3


@pytest.mark.django_db
def test_the_database_refuses_a_second_open_row(project):
    first = make_regression(project)
    row = {f: getattr(first, f) for f in ("project", "source", "key", "release", "title", "severity")}
    with pytest.raises(IntegrityError), transaction.atomic():
        Regression.objects.create(**row)
    Regression.objects.create(**{**row, "status": "fixed"})  # closed ones may repeat
    assert Regression.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_openers_leave_one_row(project):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    barrier = threading.Barrier(4)
    errors = []

    def open_one(i):
        try:
            barrier.wait()
            make_regression(project, trace_ids=[f"{i}" * 32])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    regression = Regression.objects.get()
    assert regression.occurrences == 4 and len(regression.trace_ids) == 4
