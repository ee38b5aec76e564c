"""scripts/gunicorn_conf.py: `make run`'s gunicorn workers freeze their boot objects out of the garbage
collector's way once Django and every view are loaded."""

import gc
from pathlib import Path

from scripts.gunicorn_conf import post_worker_init
from scripts.supervise import gunicorn_argv


def test_make_run_passes_the_hooks_file_to_gunicorn(tmp_path):
    argv = gunicorn_argv("python", {}, tmp_path)
    conf = Path(argv[argv.index("--config") + 1])
    assert conf.name == "gunicorn_conf.py" and conf.is_file()


def test_a_worker_freezes_what_it_loaded_at_boot():
    gc.unfreeze()
    try:
        post_worker_init(worker=None)
        assert gc.get_freeze_count() > 10_000  # Django, the URLconf and every view module
    finally:
        gc.unfreeze()
