"""HTTP plumbing the receivers share: the raw request body (chunked included), load shedding, and failures
answered in the request's own format (OTLP: google.rpc.Status protobuf or JSON; the Peekr SDK: JSON), never
an HTML page.

OTLP/HTTP exporters retry 429, 502, 503 and 504 (waiting Retry-After when given) and drop the batch on any
other status, so an overloaded server or a database that is briefly away must say 429/503, not 500.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from google.rpc import code_pb2, status_pb2

log = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
OTLP, PEEKR = "otlp", "peekr"
OTLP_PATHS = ("/v1/traces", "/v1/logs", "/v1/metrics", "/api/public/otel/v1/traces", "/api/public/otel/v1/metrics")
_RPC_CODES = {
    401: code_pb2.UNAUTHENTICATED,
    413: code_pb2.RESOURCE_EXHAUSTED,
    429: code_pb2.RESOURCE_EXHAUSTED,
    500: code_pb2.INTERNAL,
    503: code_pb2.UNAVAILABLE,
}
_READ_SIZE = 64 * 1024


class BodyError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def media_type(request: HttpRequest) -> str:
    return request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()


def otlp_error(status: int, message: str, media: str) -> HttpResponse:
    code = _RPC_CODES.get(status, code_pb2.INVALID_ARGUMENT)
    if media == PROTOBUF:
        body = status_pb2.Status(code=code, message=message).SerializeToString()
        return HttpResponse(body, status=status, content_type=PROTOBUF)
    return JsonResponse({"code": code, "message": message}, status=status)


def error_response(request: HttpRequest, protocol: str, status: int, message: str) -> HttpResponse:
    """An error in the format the client reads: OTLP's Status in the request's media type, or the SDK's JSON."""
    if protocol == PEEKR:
        return JsonResponse({"error": message}, status=status)
    return otlp_error(status, message, PROTOBUF if media_type(request) == PROTOBUF else JSON)


def read_raw(request: HttpRequest, max_bytes: int) -> bytes:
    """The body as sent (still compressed), at most max_bytes + 1 bytes: one more tells the caller it is over.

    A chunked body has no Content-Length, and Django's request stream is bounded by Content-Length, so it would
    read as empty. A server that de-chunks and ends the stream itself says so with wsgi.input_terminated
    (gunicorn does): then the WSGI input is read to its end. Django's own server (runserver) cannot; a 411 tells
    the exporter so instead of a 200 that stores nothing.
    """
    declared = request.META.get("CONTENT_LENGTH")
    if declared:
        try:
            size = int(declared)
        except ValueError:
            raise BodyError(400, f"invalid Content-Length {declared!r}") from None
        if size > max_bytes:
            raise BodyError(413, f"body of {size} bytes is over the {max_bytes}-byte limit (PEEKR_MAX_BODY_MB)")
        return request.read(max_bytes + 1)
    if "chunked" not in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return b""  # neither a length nor chunks: the body is empty (RFC 9112, 6.3)
    if not request.META.get("wsgi.input_terminated"):
        raise BodyError(411, "this server cannot read a chunked body: send a Content-Length")
    stream, parts, size = request.META["wsgi.input"], [], 0
    while size <= max_bytes:
        part = stream.read(min(_READ_SIZE, max_bytes + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


# One semaphore per limit value (settings may change in tests); each web process has its own.
_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def ingest_slots() -> threading.BoundedSemaphore | None:
    limit = settings.PEEKR_INGEST_MAX_CONCURRENCY
    if limit <= 0:
        return None
    with _slots_lock:
        return _slots.setdefault(limit, threading.BoundedSemaphore(limit))


def _retryable(request: HttpRequest, protocol: str, status: int, message: str) -> HttpResponse:
    seconds = settings.PEEKR_INGEST_RETRY_AFTER_SECONDS
    response = error_response(request, protocol, status, f"{message}: retry after {seconds} s")
    response["Retry-After"] = str(seconds)
    return response


def ingest_endpoint(protocol: str) -> Callable:
    """Wrap a receiver: shed load past PEEKR_INGEST_MAX_CONCURRENCY with 429, answer transient database errors
    with 503; both with Retry-After, in the request's format, so exporters retry instead of dropping."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def receiver(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            slots = ingest_slots()
            # Not blocking: under gthread a waiting request holds a thread and its client's timeout runs out.
            # Shed before authenticating or reading the body, so a 429 costs next to nothing.
            if slots is not None and not slots.acquire(blocking=False):
                limit = settings.PEEKR_INGEST_MAX_CONCURRENCY
                busy = f"too many ingest requests at once (PEEKR_INGEST_MAX_CONCURRENCY={limit} per process)"
                return _retryable(request, protocol, 429, busy)
            try:
                return view(request, *args, **kwargs)
            except (OperationalError, InterfaceError) as exc:
                # The transaction rolled back: nothing of the batch is stored, and the retry is safe (upserts).
                log.error("ingest %s: database unavailable, answered 503: %s", request.path, exc)
                return _retryable(request, protocol, 503, "the database is unavailable")
            finally:
                if slots is not None:
                    slots.release()

        return receiver

    return decorate


def server_error(request: HttpRequest) -> HttpResponse:
    """The site's 500 for a receiver's path: a bug is final (no Retry-After), but still in a format it reads."""
    protocol = OTLP if request.path in OTLP_PATHS else PEEKR
    return error_response(request, protocol, 500, "internal error: the batch was not stored")
