"""gunicorn hooks for `make run`'s web server (scripts/supervise.py passes this file with --config).

post_worker_init: once the worker has loaded Django and the URLconf (the views, the API), it collects garbage once
and freezes everything left (gc.freeze): those ~150,000 objects live as long as the process, yet every full
collection walked them all. An ingest request allocates enough to trigger several collections; frozen, they cost
~3 ms instead of ~25 ms of CPU per 512-span request (bench/README.md, "CPU per span").
"""

import gc


def post_worker_init(worker):
    freeze_boot_objects()


def freeze_boot_objects() -> None:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports every view now, not at the first request)
    gc.collect()
    gc.freeze()
