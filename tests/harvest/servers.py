"""Real HTTP servers on 127.0.0.1 for harvest tests: a tiny threaded server and a CKAN action API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# (method, path, query, body) -> (status, content type, body bytes)
Handler = Callable[[str, str, dict[str, str], bytes], tuple[int, str, bytes]]


@contextmanager
def serve(handler: Handler) -> Iterator[str]:
    """Run ``handler`` behind a real HTTP server on 127.0.0.1; yields its base URL."""

    class _Request(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, ctype, payload = handler(method, parts.path, query, body)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            with suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(payload)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Request)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


@dataclass
class CkanServer:
    """A CKAN action API over a list of packages: package_search with rows/start/sort/fq.

    Faults for tests: ``fail_starts`` pages answer HTTP 500 every time; ``truncate_starts``
    pages answer truncated JSON; ``slow_starts`` pages answer after ``delay`` seconds. The ``*_once``
    faults strike a page's first request only (a transient error that a retry gets past).
    """

    packages: list[dict[str, Any]]
    fail_starts: set[int] = field(default_factory=set)
    truncate_starts: set[int] = field(default_factory=set)
    slow_starts: set[int] = field(default_factory=set)
    delay: float = 2.0
    fail_once_starts: set[int] = field(default_factory=set)
    slow_once_starts: set[int] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        if not path.rstrip("/").endswith("/action/package_search"):
            return 404, "application/json", b'{"success": false, "error": {"message": "Not found"}}'
        params: dict[str, Any] = json.loads(body) if body else dict(query)
        self.requests.append(params)
        start, rows = int(params.get("start", 0)), int(params.get("rows", 10))
        if start in self.fail_starts:
            return 500, "text/html", b"<html>Internal Server Error</html>"
        if start in self.fail_once_starts:
            self.fail_once_starts.discard(start)
            return 500, "text/html", b"<html>Internal Server Error</html>"
        if start in self.slow_once_starts:
            self.slow_once_starts.discard(start)
            time.sleep(self.delay)
        if start in self.slow_starts:
            time.sleep(self.delay)
        found = list(self.packages)
        fq = params.get("fq") or ""
        if fq.startswith("metadata_modified:["):
            low = fq[len("metadata_modified:[") :].split(" TO ")[0]
            found = [p for p in found if _when(p["metadata_modified"]) >= _when(low)]
        found.sort(key=lambda p: (p.get("metadata_created", ""), p.get("id", "")))
        page = found[start : start + rows]
        payload = json.dumps(
            {"success": True, "result": {"count": len(found), "results": page}}, ensure_ascii=False
        ).encode("utf-8")
        if start in self.truncate_starts:
            payload = payload[: len(payload) // 2]
        return 200, "application/json", payload
