import pytest


@pytest.fixture
def eager_tasks():
    """Celery tasks enqueued after commit run in this process (the worker's own path is test_worker.py)."""
    from peekr_web.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before
