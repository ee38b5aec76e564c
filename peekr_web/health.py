"""GET /healthz: 200 once the database and the broker answer, 503 naming what does not.

It also reports the after-completion pipeline (traces.pipeline_state): ``"pipeline": "ok"`` or ``"behind"``
(a stage's oldest completed, unprocessed trace is older than PEEKR_PIPELINE_BEHIND_SECONDS) with the figures in
``pipeline_detail``. Behind is still 200: a load balancer keeps serving while an operator is told.
"""

import logging

from django.db import connection
from django.http import JsonResponse

from peekr_web.celery import app as celery_app
from traces.pipeline_state import pipeline_state

log = logging.getLogger(__name__)


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001
        return f"database unreachable: {exc}"
    return None


def _check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return f"broker unreachable: {exc}"
    return None


def _pipeline(*, broker_up: bool) -> dict:
    try:
        state = pipeline_state(queues=broker_up)  # a broker that just failed is not asked again
    except Exception as exc:  # noqa: BLE001 - the pipeline's figures must never fail the health check
        log.warning("pipeline state unavailable: %s", exc)
        return {"pipeline": "unknown"}
    behind = state.pop("behind")
    return {"pipeline": "behind" if behind else "ok", "pipeline_detail": state}


def healthz(request):
    database, broker = _check_database(), _check_broker()
    problems = [p for p in (database, broker) if p]
    pipeline = _pipeline(broker_up=broker is None) if database is None else {}
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems, **pipeline}, status=503)
    return JsonResponse({"status": "ok", **pipeline})
