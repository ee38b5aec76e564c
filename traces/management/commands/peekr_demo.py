"""Send a day of demo traffic to a Peekr server through the real OpenTelemetry SDK and OTLP/HTTP exporter."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from django.core.management.base import BaseCommand, CommandError
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from traces import demo
from traces.models import Project
from traces.services import api_key_create, project_create


class Tally(SpanExporter):
    """Counts what the wrapped exporter got accepted, so the summary reports what the server took, not what
    was attempted (the SDK only logs a failed export)."""

    def __init__(self, inner: SpanExporter, totals: dict):
        self.inner = inner
        self.totals = totals
        self.lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self.inner.export(spans)
        with self.lock:
            if result is SpanExportResult.SUCCESS:
                self.totals["spans"] += len(spans)
                self.totals["trace_ids"].update(s.context.trace_id for s in spans)
            else:
                self.totals["failed"] += len(spans)
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def check_endpoint(url: str, key: str) -> None:
    """Fail in a second on a wrong URL or key: the exporter would retry every batch with backoff first."""
    request = urllib.request.Request(
        url,
        data=b"",  # an empty ExportTraceServiceRequest
        method="POST",
        headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise CommandError(f"{url} refused the key (HTTP {exc.code}): check --key") from None
        if exc.code in (404, 405):
            raise CommandError(f"{url} answered HTTP {exc.code}: is --endpoint a Peekr server?") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CommandError(f"cannot reach {url}: {reason}. Is the server running?") from None


class Command(BaseCommand):
    help = (
        "Send realistic demo traces (RAG sessions, tool-calling agents, a judge on the request path, loops, "
        "retry storms, errors, waste) spread over the last 24 hours, through the OpenTelemetry SDK."
    )

    def add_arguments(self, parser):
        parser.add_argument("--endpoint", default="http://127.0.0.1:8000", help="Peekr's base URL")
        who = parser.add_mutually_exclusive_group()
        who.add_argument("--key", help="an ingestion key (pk_...)")
        who.add_argument(
            "--project",
            help="create a fresh key for this project (and the project if it does not exist); default: demo",
        )
        parser.add_argument(
            "--traces",
            type=int,
            default=80,
            help="about this many traces; every scenario is always sent once (22 traces) (default: 80)",
        )
        parser.add_argument("--seed", type=int, default=7, help="content and timing seed (ids are always random)")

    def handle(self, *args, endpoint: str, key: str | None, project: str | None, traces: int, seed: int, **options):
        key = key or self._key_for(project or "demo")
        url = f"{endpoint.rstrip('/')}/v1/traces"
        check_endpoint(url, key)

        totals = {"spans": 0, "failed": 0, "trace_ids": set()}
        providers: dict[str, TracerProvider] = {}

        def tracer_for(service: str):
            # One provider per app: the resource (service.name) belongs to the provider, as in a real process.
            if service not in providers:
                resource = Resource.create(
                    {
                        "service.name": service,
                        "service.version": demo.SERVICES[service],
                        "deployment.environment.name": "demo",
                    }
                )
                provider = TracerProvider(resource=resource)
                exporter = OTLPSpanExporter(endpoint=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
                # The queue must hold the whole day: spans end far faster than the exporter sends them, and a
                # full queue drops spans silently.
                provider.add_span_processor(BatchSpanProcessor(Tally(exporter, totals), max_queue_size=200_000))
                providers[service] = provider
            return providers[service].get_tracer("nimbus.app", demo.SERVICES[service])

        began = time.monotonic()
        try:
            demo.emit(tracer_for, end_ns=time.time_ns(), traces=traces, seed=seed)
        finally:
            for provider in providers.values():
                provider.force_flush()
                provider.shutdown()
        elapsed = time.monotonic() - began

        if totals["failed"]:
            raise CommandError(
                f"{url} did not accept {totals['failed']} of {totals['failed'] + totals['spans']} spans "
                "(the exporter logged why above)"
            )
        self.stdout.write(
            f"sent {len(totals['trace_ids'])} traces / {totals['spans']} spans to {url} in {elapsed:.1f} s"
        )

    def _key_for(self, name: str) -> str:
        project = Project.objects.filter(name=name).first()
        if project is None:
            project, raw = project_create(name=name)
            self.stdout.write(f"Created project {name!r}.")
            return raw
        _, raw = api_key_create(project=project, name="peekr-demo")
        return raw
