"""A real HTTP server on 127.0.0.1 standing in for Discord's webhook endpoint."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeDiscord:
    """Answers each POST with the next scripted reply: an int status, ("429", seconds) or "hang"."""

    def __init__(self, script: list[object] | None = None, default: object = 204) -> None:
        self.script = list(script or [])
        self.default = default
        self.received: list[tuple[float, dict]] = []
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.received.append((time.monotonic(), json.loads(body)))
                reply = server.script.pop(0) if server.script else server.default
                if reply == "hang":
                    server._release.wait(30)
                    return
                if isinstance(reply, tuple):
                    payload = json.dumps({"message": "You are being rate limited.", "retry_after": reply[1], "global": False}).encode()
                    self.send_response(429)
                    self.send_header("Retry-After", str(reply[1]))
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(int(reply))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/api/webhooks/123456789/s3cr3t-T0KEN-value"

    def __enter__(self) -> FakeDiscord:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
