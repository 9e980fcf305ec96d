"""The server's HTTP endpoint (``--metrics-port``): ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .health import check_health
from .snapshot import ServerSnapshot


class HttpEndpoint:
    def __init__(self, snapshot: Callable[[], ServerSnapshot], port: int, host: str = "0.0.0.0",
                 render_metrics: Callable[[], bytes] | None = None):
        self.snapshot = snapshot
        self.render_metrics = render_metrics
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="karafka.http", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    healthy, body = check_health(endpoint.snapshot())
                    self._send(200 if healthy else 503, json.dumps(body).encode(), "application/json")
                elif self.path == "/metrics" and endpoint.render_metrics is not None:
                    self._send(200, endpoint.render_metrics(), "text/plain; version=0.0.4; charset=utf-8")
                elif self.path == "/metrics":
                    self._send(501, b"metrics need prometheus-client: pip install 'karafka_django[metrics]'\n", "text/plain")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # probes every few seconds: keep the log quiet
                pass

        return Handler
