"""OTLP over gRPC (port 4317 by default): the TraceService, MetricsService and LogsService of opentelemetry-proto,
served by grpcio in a process of its own (`manage.py peekr_grpc`, started by `make run` beside the web server).

It shares everything with OTLP/HTTP but the transport: the key (`authorization` metadata: `Bearer <key>` or
Langfuse's `Basic base64(public:key)`; or `x-peekr-key`), the decoders and their limits, the ingest services,
and PEEKR_INGEST_MAX_CONCURRENCY. gRPC decompresses gzip itself and refuses a message over
PEEKR_MAX_BODY_MB before it reaches us (RESOURCE_EXHAUSTED).

Status codes follow the OTLP specification, as HTTP's do: what HTTP answers 429 (too many requests at once) is
RESOURCE_EXHAUSTED and 503 (the database is away) is UNAVAILABLE, both with a RetryInfo (in
`grpc-status-details-bin`, and in `google.rpc.retryinfo-bin`, which opentelemetry-python reads), so exporters
retry after PEEKR_INGEST_RETRY_AFTER_SECONDS. A body that cannot be decoded is INVALID_ARGUMENT, a missing or
wrong key UNAUTHENTICATED, a request over a limit RESOURCE_EXHAUSTED without RetryInfo (final, like HTTP's 413),
a bug INTERNAL: none of these is retried.

Requests are handled with their body as bytes (no deserializer), so the very decoders of OTLP/HTTP's protobuf
path run on them, with the same limits.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent import futures

import grpc
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections
from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from traces import metric_points, otlp, otlp_metrics, services
from traces.models import Project
from traces.sanitize import RequestTooLarge
from traces.selectors import credentials_from_header, project_for_key
from traces.wire import PROTOBUF, ingest_slots

log = logging.getLogger(__name__)
UNAUTHENTICATED = "missing or invalid API key: send authorization: Bearer <key> (or Basic base64(public:key))"


class Refused(Exception):
    """Ends an RPC with a status (and RetryInfo when the exporter should come back)."""

    def __init__(self, code: grpc.StatusCode, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.code, self.message, self.retry_after = code, message, retry_after


def _project(context: grpc.ServicerContext) -> Project:
    metadata = {k.lower(): v for k, v in context.invocation_metadata() if isinstance(v, str)}
    secret, public = credentials_from_header(metadata.get("authorization", ""), metadata.get("x-peekr-key", ""))
    project = project_for_key(secret, public)
    if project is None:
        raise Refused(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED)
    return project


def _export_traces(body: bytes, context: grpc.ServicerContext) -> bytes:
    project = _project(context)
    raws, errors = otlp.decode_traces_request(body, PROTOBUF)
    services.spans_ingest(project=project, raws=raws)
    message = ""
    if errors:
        shown = "; ".join(f"span {e.index} ({e.name or '?'} {e.span_id or 'no id'}): {e.reason}" for e in errors[:20])
        message = f"{len(errors)} span(s) rejected: {shown}"
    return otlp.encode_partial_success(len(errors), message, PROTOBUF)


def _export_metrics(body: bytes, context: grpc.ServicerContext) -> bytes:
    project = _project(context)
    batch = otlp_metrics.decode_metrics_request(body, PROTOBUF)
    metric_points.metric_points_ingest(project=project, batch=batch)
    return otlp_metrics.encode_metrics_response(batch, PROTOBUF)


def _export_logs(body: bytes, context: grpc.ServicerContext) -> bytes:
    project = _project(context)
    services.log_events_ingest(project=project, events=otlp.decode_logs_request(body, PROTOBUF))
    return logs_service_pb2.ExportLogsServiceResponse().SerializeToString()


def _abort(context: grpc.ServicerContext, refused: Refused) -> None:
    status = status_pb2.Status(code=refused.code.value[0], message=refused.message)
    trailers = []
    if refused.retry_after is not None:
        retry = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=refused.retry_after))
        detail = AnyMessage()
        detail.Pack(retry)
        status.details.append(detail)
        trailers.append(("google.rpc.retryinfo-bin", retry.SerializeToString()))
    trailers.append(("grpc-status-details-bin", status.SerializeToString()))
    context.set_trailing_metadata(tuple(trailers))
    context.abort(refused.code, refused.message)


def _guarded(name: str, export: Callable[[bytes, grpc.ServicerContext], bytes]) -> Callable:
    """One RPC: shed past the concurrency limit, map failures to OTLP status codes, keep Django's connection
    handling (a thread of the pool is a long-lived 'request' otherwise)."""

    def handle(body: bytes, context: grpc.ServicerContext) -> bytes:
        slots = ingest_slots()
        seconds = settings.PEEKR_INGEST_RETRY_AFTER_SECONDS
        try:
            if slots is not None and not slots.acquire(blocking=False):
                limit = settings.PEEKR_INGEST_MAX_CONCURRENCY
                raise Refused(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"too many ingest requests at once (PEEKR_INGEST_MAX_CONCURRENCY={limit} per process): "
                    f"retry after {seconds} s",
                    seconds,
                )
            try:
                close_old_connections()
                return export(body, context)
            except otlp.OTLPDecodeError as exc:
                raise Refused(grpc.StatusCode.INVALID_ARGUMENT, f"could not decode the request: {exc}") from None
            except RequestTooLarge as exc:
                raise Refused(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)) from None
            except (OperationalError, InterfaceError) as exc:
                log.error("grpc %s: database unavailable, answered UNAVAILABLE: %s", name, exc)
                raise Refused(
                    grpc.StatusCode.UNAVAILABLE, f"the database is unavailable: retry after {seconds} s", seconds
                ) from None
            finally:
                close_old_connections()
                if slots is not None:
                    slots.release()
        except Refused as refused:
            _abort(context, refused)
        except Exception:
            log.exception("grpc %s: internal error", name)
            _abort(context, Refused(grpc.StatusCode.INTERNAL, "internal error: the batch was not stored"))
        return b""  # not reached: abort raises

    return handle


def _service(descriptor, service: str, export: Callable) -> grpc.GenericRpcHandler:
    full_name = descriptor.services_by_name[service].full_name
    handler = grpc.unary_unary_rpc_method_handler(_guarded(full_name, export))  # bytes in, bytes out
    return grpc.method_handlers_generic_handler(full_name, {"Export": handler})


def handlers() -> list[grpc.GenericRpcHandler]:
    return [
        _service(trace_service_pb2.DESCRIPTOR, "TraceService", _export_traces),
        _service(metrics_service_pb2.DESCRIPTOR, "MetricsService", _export_metrics),
        _service(logs_service_pb2.DESCRIPTOR, "LogsService", _export_logs),
    ]


def server_create(address: str, *, threads: int | None = None) -> tuple[grpc.Server, int]:
    """A started server on address ("host:port"; port 0 picks one) and the port it listens on."""
    limit = settings.PEEKR_INGEST_MAX_CONCURRENCY or 4
    threads = threads or limit + 2  # a shed request is answered by a free thread, not queued behind the work
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="otlp-grpc"),
        handlers=handlers(),
        maximum_concurrent_rpcs=threads * 8,  # past this grpc itself answers RESOURCE_EXHAUSTED
        options=[
            ("grpc.max_receive_message_length", settings.PEEKR_MAX_BODY_BYTES),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ],
    )
    port = server.add_insecure_port(address)
    if not port:
        raise OSError(f"cannot listen on {address} for OTLP/gRPC")
    server.start()
    return server, port


def serve(address: str, stop: threading.Event) -> None:
    server, port = server_create(address)
    log.warning("OTLP/gRPC listening on %s (port %d)", address, port)
    stop.wait()
    server.stop(grace=10).wait()
