import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from traces import grpc_server


class Command(BaseCommand):
    help = "Serve OTLP over gRPC (traces, metrics, logs) until SIGTERM or Ctrl-C; PEEKR_GRPC_PORT=0 turns it off."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=None, help="host to listen on (default: PEEKR_BIND, else 127.0.0.1)")
        parser.add_argument("--port", type=int, default=None, help="port (default: PEEKR_GRPC_PORT, 4317)")

    def handle(self, *args, bind: str | None = None, port: int | None = None, **options):
        port = settings.PEEKR_GRPC_PORT if port is None else port
        if port == 0:
            self.stdout.write("OTLP/gRPC is off (PEEKR_GRPC_PORT=0).")
            return
        if not 0 < port < 65536:
            raise CommandError(f"the gRPC port must be 1..65535 (or 0 to turn it off), got {port}")
        host = bind or settings.PEEKR_BIND
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        try:
            server, bound = grpc_server.server_create(address)
        except OSError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"OTLP/gRPC listening on {host}:{bound}", ending="\n")
        self.stdout.flush()
        stop.wait()
        server.stop(grace=10).wait()
