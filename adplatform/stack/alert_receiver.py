"""A webhook receiver for Alertmanager that appends each notification to a JSON-lines file.

It gives the embedded stack somewhere visible for alerts to land (`adplatform stack logs
alert-receiver`, or the file itself) without a pager or a chat account.
"""

from __future__ import annotations

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def serve(host: str, port: int, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                payload = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            record = {"received_at": time.time(), "path": self.path, **payload}
            with out.open("a") as f:
                f.write(json.dumps(record) + "\n")
            for alert in payload.get("alerts", []):
                labels = alert.get("labels", {})
                print(f"{alert.get('status')} {labels.get('alertname')} {labels}", flush=True)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            """Quiet: the alerts themselves are the log."""

    ThreadingHTTPServer((host, port), Handler).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    serve(args.host, args.port, args.out)


if __name__ == "__main__":
    main()
