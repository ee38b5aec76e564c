"""A local HTTP receiver for alert deliveries: answers from a script (status codes, or "sleep" to time out) and
records every request it got."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, script: list) -> None:
        self.script = list(script)  # per request: an int status, or ("sleep", seconds, status)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.url = ""

    def next_answer(self):
        with self.lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        raise AssertionError(f"the receiver got {len(self.requests)} requests, expected {count}")


@contextmanager
def receiver(script: list):
    state = Receiver(script)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body, "json": json.loads(body)}
                )
            answer = state.next_answer()
            if isinstance(answer, tuple):
                time.sleep(answer[1])
                answer = answer[2]
            try:
                self.send_response(answer)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if answer < 300 else b"receiver says no")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/peekr"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
