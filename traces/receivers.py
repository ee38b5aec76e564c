"""Wire-protocol entry points: OTLP/HTTP (/v1/traces, /v1/logs) and the Peekr SDK's JSON (/v1/spans).

They are plain Django views rather than ninja operations because OTLP answers in the request's own
content type (protobuf or JSON) and must read a bounded, possibly compressed, raw body. Each one
authenticates, bounds, parses and calls one service; nothing slow runs here.
"""

from __future__ import annotations

import json
import zlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from traces import extensions, metric_points, otlp, services
from traces import otlp_metrics as otlp_metrics_codec
from traces.normalize.peekr import decode_spans_request
from traces.sanitize import RequestTooLarge
from traces.selectors import project_for_key, request_credentials
from traces.wire import JSON, OTLP, PEEKR, PROTOBUF, BodyError, ingest_endpoint, media_type, otlp_error, read_raw


def read_body(request: HttpRequest, max_bytes: int) -> bytes:
    """Read the body, refusing more than max_bytes both on the wire and after decompression.

    Decompression is streamed with a cap, so a gzip bomb costs at most max_bytes of memory.
    """
    data = read_raw(request, max_bytes)  # chunked bodies too
    if len(data) > max_bytes:
        raise BodyError(413, f"body is over the {max_bytes}-byte limit (PEEKR_MAX_BODY_MB)")
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding in ("gzip", "x-gzip"):
        candidates = [zlib.MAX_WBITS | 16]
    elif encoding == "deflate":
        candidates = [zlib.MAX_WBITS, -zlib.MAX_WBITS]  # zlib-wrapped as HTTP says, or raw as some clients send
    else:
        raise BodyError(415, f"unsupported Content-Encoding {encoding!r}: use gzip, deflate or none")
    inflated_max = min(max_bytes, settings.PEEKR_MAX_DECODED_BYTES)  # parsing costs ~15x it: stop inflating there
    for wbits in candidates:
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(data, inflated_max + 1)
        except zlib.error:
            continue
        if len(out) > inflated_max or inflater.unconsumed_tail:
            raise BodyError(
                413,
                f"decompressed body is over the {inflated_max}-byte limit (PEEKR_MAX_BODY_MB, PEEKR_MAX_DECODED_MB)",
            )
        return out
    raise BodyError(400, f"body is not valid {encoding} data")


UNAUTHENTICATED = "missing or invalid API key: send Authorization: Bearer <key> (or Basic base64(public:key))"


def _authenticate(request: HttpRequest):
    # Langfuse's x-langfuse-* headers (public key, ingestion version) say nothing Basic auth does not: ignored.
    secret, public = request_credentials(request)
    return project_for_key(secret, public)


def _wants_sync(request: HttpRequest) -> bool:
    return request.GET.get("evaluate") == "sync" or request.headers.get("X-Peekr-Evaluate", "").lower() == "sync"


def _evaluate_now(trace_pks: list[int]) -> list[dict]:
    """Sync mode, for scripts and tests: evaluate the batch's traces now (judges included, within a bounded time)
    and return the scores; judgements not done in time are still pending, and the worker finishes them. The
    evaluator is the one evals registers (traces.extensions)."""
    return extensions.evaluate_now(trace_pks)


def _describe_rejections(errors) -> str:
    shown = "; ".join(f"span {e.index} ({e.name or '?'} {e.span_id or 'no id'}): {e.reason}" for e in errors[:20])
    more = f"; and {len(errors) - 20} more" if len(errors) > 20 else ""
    return f"{len(errors)} span(s) rejected: {shown}{more}"


def _otlp_request(request: HttpRequest, decode):
    """What every OTLP/HTTP receiver does first: media type, key, bounded body, decode. (project, media, decoded)
    or the error response, in the request's format."""
    media = media_type(request)
    if media not in (PROTOBUF, JSON):
        return otlp_error(415, f"unsupported Content-Type {media!r}: use {PROTOBUF} or {JSON}", JSON)
    project = _authenticate(request)
    if project is None:
        return otlp_error(401, UNAUTHENTICATED, media)
    try:
        body = read_body(request, settings.PEEKR_MAX_BODY_BYTES)
        decoded = decode(body, media)
    except BodyError as exc:
        return otlp_error(exc.status, exc.message, media)
    except otlp.OTLPDecodeError as exc:
        return otlp_error(400, f"could not decode the request: {exc}", media)
    except RequestTooLarge as exc:
        return otlp_error(413, str(exc), media)
    return project, media, decoded


@csrf_exempt
@require_POST
@ingest_endpoint(OTLP)
def otlp_traces(request: HttpRequest) -> HttpResponse:
    """OTLP/HTTP trace export: protobuf or JSON, gzip/deflate, partial success for invalid spans."""
    decoded = _otlp_request(request, otlp.decode_traces_request)
    if isinstance(decoded, HttpResponse):
        return decoded
    project, media, (raws, errors) = decoded
    result = services.spans_ingest(project=project, raws=raws)
    message = _describe_rejections(errors) if errors else ""
    body = otlp.encode_partial_success(len(errors), message, media)
    if not _wants_sync(request):
        return HttpResponse(body, status=200, content_type=media)
    scores = _evaluate_now(result.trace_pks)
    if media == JSON:  # OTLP/JSON readers ignore unknown fields; protobuf gets the scores in a header only
        body = json.dumps({**json.loads(body or b"{}"), "peekrScores": scores}, default=str).encode()
    response = HttpResponse(body, status=200, content_type=media)
    response["X-Peekr-Scores"] = json.dumps(scores, default=str, separators=(",", ":"))
    return response


@csrf_exempt
@require_POST
@ingest_endpoint(OTLP)
def otlp_logs(request: HttpRequest) -> HttpResponse:
    """OTLP/HTTP log export: GenAI message events are attached to their spans; other records are ignored."""
    decoded = _otlp_request(request, otlp.decode_logs_request)
    if isinstance(decoded, HttpResponse):
        return decoded
    project, media, events = decoded
    services.log_events_ingest(project=project, events=events)
    if media == PROTOBUF:
        return HttpResponse(b"", status=200, content_type=PROTOBUF)
    return JsonResponse({})


@csrf_exempt
@require_POST
@ingest_endpoint(OTLP)
def otlp_metrics(request: HttpRequest) -> HttpResponse:
    """OTLP/HTTP metric export: GenAI metrics (gen_ai.*, llm.*) are stored as time series; others are accepted
    and dropped (counted), never an error."""
    decoded = _otlp_request(request, otlp_metrics_codec.decode_metrics_request)
    if isinstance(decoded, HttpResponse):
        return decoded
    project, media, batch = decoded
    metric_points.metric_points_ingest(project=project, batch=batch)
    return HttpResponse(otlp_metrics_codec.encode_metrics_response(batch, media), status=200, content_type=media)


@csrf_exempt
@require_POST
@ingest_endpoint(PEEKR)
def peekr_spans(request: HttpRequest) -> HttpResponse:
    """The Peekr Python SDK's HTTPExporter: {"spans": [...]}; invalid items are rejected one by one."""
    if media_type(request) not in (JSON, ""):
        return JsonResponse({"error": "unsupported Content-Type: send application/json"}, status=415)
    project = _authenticate(request)
    if project is None:
        return JsonResponse({"error": UNAUTHENTICATED}, status=401)
    try:
        body = read_body(request, settings.PEEKR_MAX_BODY_BYTES)
        raws, rejected = decode_spans_request(body)
    except BodyError as exc:
        return JsonResponse({"error": exc.message}, status=exc.status)
    except RequestTooLarge as exc:
        return JsonResponse({"error": str(exc)}, status=413)
    except (ValueError, UnicodeDecodeError) as exc:
        return JsonResponse({"error": f"body is not valid JSON: {exc}"}, status=400)
    result = services.spans_ingest(project=project, raws=raws)
    answer = {"accepted": result.accepted, "rejected": rejected}
    if _wants_sync(request):
        answer["scores"] = _evaluate_now(result.trace_pks)
    return JsonResponse(answer, json_dumps_params={"default": str})


@require_GET
def peekr_compliance(request: HttpRequest) -> HttpResponse:
    """Compliance packs for the Peekr SDK's CloudComplianceGuard: the project's own, none by default."""
    project = _authenticate(request)
    if project is None:
        return JsonResponse({"error": UNAUTHENTICATED}, status=401)
    data = project.compliance or {}
    return JsonResponse({"packs": data.get("packs", []), "rules": data.get("rules", [])})
