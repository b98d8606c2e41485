"""The part both fakes share: a threaded stdlib HTTP server, a call log and fault injection."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Call:
    """One API request the fake received."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    status: int = 200


@dataclass
class Fault:
    status: int
    body: dict | str
    headers: dict[str, str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 drops simultaneous connections (1 s SYN retries)


class FakeBotAPI:
    """Serves `/bot<token>/<method>` on 127.0.0.1:<free port> from a background thread.

    Subclasses parse the request body (`parse_params`) and answer methods (`handle`). Every
    request is recorded in `calls`; `fail(method, status, body)` makes the next requests of a
    method fail; `wait_for(predicate)` blocks until the call log satisfies a condition.
    """

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.cond = threading.Condition()
        self._faults: dict[str, deque[Fault]] = {}
        self.closing = False
        handler = self._make_handler()
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "FakeBotAPI":
        self._thread.start()
        return self

    def close(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "FakeBotAPI":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- test controls ------------------------------------------------------------------------

    def fail(self, method: str, status: int, body: dict | str = "", times: int = 1, headers: dict | None = None) -> None:
        """Answer the next `times` calls of `method` with this status and body."""
        with self.cond:
            queue = self._faults.setdefault(method, deque())
            queue.extend(Fault(status, body, headers or {}) for _ in range(times))

    def calls_of(self, method: str) -> list[Call]:
        with self.cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[list[Call]], Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate(calls)` is truthy and return its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(list(self.calls))
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    methods = [c.method for c in self.calls][-20:]
                    raise TimeoutError(f"condition not met; last calls: {methods}")
                self.cond.wait(remaining)

    async def await_for(self, predicate: Callable[[list[Call]], Any], timeout: float = 10.0) -> Any:
        """`wait_for` without blocking the event loop."""
        import asyncio

        return await asyncio.to_thread(self.wait_for, predicate, timeout)

    # -- to implement -------------------------------------------------------------------------

    def parse_params(self, content_type: str, raw: bytes) -> dict[str, Any]:
        raise NotImplementedError

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict]:
        raise NotImplementedError

    def serve_file(self, path: str) -> tuple[int, bytes, str] | None:
        """A GET that is not an API method (a file download): (status, body, type), else None."""
        return None

    # -- plumbing -----------------------------------------------------------------------------

    def _record(self, call: Call) -> None:
        with self.cond:
            self.calls.append(call)
            self.cond.notify_all()

    def _take_fault(self, method: str) -> Fault | None:
        with self.cond:
            queue = self._faults.get(method)
            return queue.popleft() if queue else None

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                served = fake.serve_file(self.path)
                if served is None:
                    self.do_POST()
                    return
                status, data, content_type = served
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                prefix = f"/bot{fake.token}/"
                if not self.path.startswith(prefix):
                    self._send(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                    return
                method = self.path[len(prefix):].split("?")[0]
                params = fake.parse_params(self.headers.get("Content-Type", ""), raw)
                fault = fake._take_fault(method)
                if fault:
                    fake._record(Call(method, params, status=fault.status))
                    self._send(fault.status, fault.body, fault.headers)
                    return
                status, body = fake.handle(method, params)
                fake._record(Call(method, params, status=status))
                self._send(status, body)

            def _send(self, status: int, body: dict | str, headers: dict | None = None) -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. a cancelled poll)
                    pass

        return Handler
