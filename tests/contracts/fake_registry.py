"""An in-memory Confluent Schema Registry with the two endpoints the platform calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

from adplatform import contracts


class _FakeRegistry(BaseHTTPRequestHandler):
    """The two Schema Registry endpoints the platform calls, in memory."""

    schemas: ClassVar[list[str]] = []

    def _reply(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path == f"/subjects/{contracts.BID_REQUEST_SUBJECT}/versions"
        if body["schema"] not in self.schemas:
            self.schemas.append(body["schema"])
        self._reply(200, {"id": 100 + self.schemas.index(body["schema"])})

    def do_GET(self):
        schema_id = int(self.path.rsplit("/", 1)[1])
        if 100 <= schema_id < 100 + len(self.schemas):
            self._reply(200, {"schema": self.schemas[schema_id - 100]})
        else:
            self._reply(404, {"error_code": 40403, "message": "Schema not found"})

    def log_message(self, *args):
        pass


@contextmanager
def fake_registry() -> Iterator[str]:
    """Serve a fresh in-memory registry; yields its URL."""
    _FakeRegistry.schemas = []
    server = HTTPServer(("127.0.0.1", 0), _FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
