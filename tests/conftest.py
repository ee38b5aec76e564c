import os

import pytest


@pytest.fixture
def owner(db):
    from tests.base import make_user

    return make_user("owner")


@pytest.fixture
def outsider(db):
    from tests.base import make_user

    return make_user("outsider")


@pytest.fixture
def project_and_key(db, owner):
    from tests.base import make_project

    return make_project("acme", owner=owner)


@pytest.fixture
def project(project_and_key):
    return project_and_key[0]


@pytest.fixture
def api_key(project_and_key):
    return project_and_key[1]


@pytest.fixture
def other_project_and_key(db, outsider):
    from tests.base import make_project

    return make_project("elsewhere", owner=outsider)


@pytest.fixture
def owner_client(client, owner, project):
    client.force_login(owner)
    return client


def _database_url_for_subprocess() -> str:
    """The URL of the database this test session uses (the test database), for a child process."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def subprocess_env(transactional_db) -> dict:
    """Environment for a child process (Celery worker, demo sender) that must see the test database."""
    import os

    return {**os.environ, "PEEKR_DATABASE_URL": _database_url_for_subprocess(), "PEEKR_LOG_LEVEL": "WARNING"}


@pytest.fixture
def celery_worker_process(subprocess_env):
    """A real Celery worker process (prefork, 2 children) on the configured broker, stopped after the test."""
    import subprocess
    import sys
    import time

    from django.conf import settings

    from peekr_web.celery import app

    app.control.purge()  # messages left by earlier runs would only add noise
    # The log goes to a file: an unread pipe fills up and blocks the worker mid-task.
    log_path = settings.DATA_DIR / f"worker-{os.getpid()}-{time.monotonic_ns()}.log"
    log_file = open(log_path, "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "peekr_web", "worker", "-Q", "celery,judges", "--concurrency", "2", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle", "--hostname", f"test-{os.getpid()}@%h"],
        env=subprocess_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log_path.read_text()[-5000:]}")
        if app.control.ping(timeout=0.5):
            break
    else:
        proc.kill()
        raise RuntimeError("celery worker did not answer ping within 60 s")
    proc.log_path = log_path
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log_file.close()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs ~0.5 s per user made; tests check access rules, not hashing strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _pipeline_notice_cached():
    # The steady state: the "evaluations are behind" notice read less than 15 s ago (no notice), so a page's
    # query count does not depend on how long ago another test rendered a page. Its own tests clear the cache.
    from django.core.cache import cache

    from traces.context_processors import NOTICE_CACHE_KEY

    cache.set(NOTICE_CACHE_KEY, "", None)
    yield
    cache.delete(NOTICE_CACHE_KEY)


@pytest.fixture(autouse=True)
def _shared_values_forgotten():
    # traces.shared_values counts and caches per process, as a server does for its life; a test database is
    # emptied between tests (and SQLite may give a new project an old id), so each test starts with none.
    from traces import shared_values

    shared_values.forget()
