"""A small OpenAI-compatible HTTP server for tests: the edge of the world we cannot reach (an LLM provider).

It speaks /v1/chat/completions (plain, tool calls, SSE streaming with include_usage) and /v1/embeddings
over real HTTP on 127.0.0.1, so clients and instrumentations run unmodified against it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_ANSWER = "Paris is the capital of France."


class FakeOpenAI:
    def __init__(
        self,
        answer: str | Callable[[dict], str] = DEFAULT_ANSWER,
        *,
        delay: float = 0.0,
        usage: tuple[int, int] = (42, 17),
        tool_call: dict | None = None,
        embedding: Callable[[str], list[float]] | None = None,
    ):
        self.answer = answer
        self.delay = delay
        self.usage = usage
        self.tool_call = tool_call  # {"name": ..., "arguments": {...}} answered when tools are sent
        self.embedding = embedding  # text -> vector; None answers [0.1, 0.2, 0.3] for every text
        self.requests: list[dict] = []
        # (status, headers) or (status, headers, body) answered, in order, before normal replies
        self.fail_next: list[tuple] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # a short poll interval: shutdown() waits for the serving loop's next poll (0.5 s by default)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply_text(self, body: dict) -> str:
        return self.answer(body) if callable(self.answer) else self.answer

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                if fake.delay:
                    time.sleep(fake.delay)
                if fake.fail_next:
                    status, headers, *rest = fake.fail_next.pop(0)
                    payload = rest[0] if rest else {"error": {"message": f"fake failure {status}"}}
                    self._json(status, payload, headers)
                    return
                if self.path.endswith("/embeddings"):
                    inputs = body.get("input")
                    inputs = inputs if isinstance(inputs, list) else [inputs]
                    embed = fake.embedding or (lambda text: [0.1, 0.2, 0.3])
                    data = [
                        {"object": "embedding", "index": i, "embedding": embed(str(text))}
                        for i, text in enumerate(inputs)
                    ]
                    usage = {"prompt_tokens": 8 * len(inputs), "total_tokens": 8 * len(inputs)}
                    self._json(200, {"object": "list", "data": data, "model": body.get("model"), "usage": usage})
                    return
                if not self.path.endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if body.get("stream"):
                    self._stream(body)
                    return
                self._json(200, fake._completion(body))

            def _stream(self, body: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
                base = {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model"),
                }
                words = fake._reply_text(body).split(" ")
                for i, word in enumerate(words):
                    delta = {"content": word + ("" if i == len(words) - 1 else " ")}
                    if i == 0:
                        delta["role"] = "assistant"
                    chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(
                    f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]})}\n\n".encode()
                )
                if (body.get("stream_options") or {}).get("include_usage"):
                    p, c = fake.usage
                    usage = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
                    self.wfile.write(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler

    def _completion(self, body: dict) -> dict:
        p, c = self.usage
        messages = body.get("messages") or []
        wants_tool = self.tool_call and body.get("tools") and (not messages or messages[-1].get("role") != "tool")
        if wants_tool:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": self.tool_call["name"],
                            "arguments": json.dumps(self.tool_call["arguments"]),
                        },
                    }
                ],
            }
            finish = "tool_calls"
        else:
            message = {"role": "assistant", "content": self._reply_text(body)}
            finish = "stop"
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
        }
