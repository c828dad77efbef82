"""A local stand-in for the EQC API: a real HTTP server on 127.0.0.1.

Tests script it per name (status, body, delay, headers) and read its call
log; by default it answers from a small directory of companies. Run it by
hand for demos:

    python -m tests.eqc_standin --port 8765 --directory examples/directory.csv
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

SEARCH_PATH = "/kg-api-hfd/api/search/"


@dataclass
class Reply:
    status: int = 200
    body: str | None = None  # None: the default answer for the name
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    key: str
    token: str | None
    referer: str | None
    at: float = 0.0  # time.monotonic() when the request arrived


class EqcStandin:
    """Start with `with EqcStandin(...) as eqc:`; `eqc.url` is its base URL."""

    def __init__(
        self,
        companies: dict[str, tuple[str, str]] | None = None,
        *,
        token: str = "good-token",
        delay: float = 0.0,
        port: int = 0,
    ) -> None:
        self.companies = companies or {}  # name -> (company_id, unite_code)
        self.token = token
        self.delay = delay
        self.scripts: dict[str, list[Reply]] = defaultdict(list)
        self.bodies: dict[str, str] = {}  # name -> the body of every answer (see `answer`)
        self.calls: list[Call] = []
        self.in_flight = 0  # requests being answered now
        self.most_in_flight = 0  # the most ever answered at once
        # Requests wait while the gate is closed (cleared): a test holds them in flight.
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, name: str, *replies: Reply) -> None:
        """Serve these replies, in order, to the next requests for `name`."""
        self.scripts[name].extend(replies)

    def answer(self, name: str, body: object) -> None:
        """Answer every request for `name` with this JSON body (after any scripted replies).

        `body` is any JSON value, garbage included: `{"list": [{"companyId": 12.5, ...}]}`.
        The stand-in's delay and token check apply as to its default answers.
        """
        self.bodies[name] = json.dumps(body)  # ASCII with \u escapes: lone surrogates travel too

    def keys(self) -> list[str]:
        with self._lock:
            return [call.key for call in self.calls]

    def __enter__(self) -> EqcStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, key: str) -> Reply:
        with self._lock:
            queue = self.scripts.get(key)
            if queue:
                return queue.pop(0)
        return Reply(delay=self.delay)

    def _default_body(self, key: str) -> str:
        if key in self.bodies:
            return self.bodies[key]
        found = self.companies.get(key)
        if found is None:
            return json.dumps({"list": []})
        company_id, code = found
        item = {
            "companyId": company_id,
            "companyFullName": key,
            "unite_code": code,
            "type": "全称精确匹配",
            "_score": 12.5,
        }
        return json.dumps({"list": [item]}, ensure_ascii=False)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: names must not reach any log

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path != SEARCH_PATH:
                    self._send(404, "{}")
                    return
                key = parse_qs(url.query).get("key", [""])[0]
                token = self.headers.get("token")
                with standin._lock:
                    referer = self.headers.get("Referer")
                    standin.calls.append(Call(key, token, referer, time.monotonic()))
                    standin.in_flight += 1
                    standin.most_in_flight = max(standin.most_in_flight, standin.in_flight)
                try:
                    standin.gate.wait(timeout=120)
                    reply = standin._answer(key)
                    if reply.delay:
                        time.sleep(reply.delay)
                finally:
                    with standin._lock:
                        standin.in_flight -= 1
                if token != standin.token and reply.status == 200 and reply.body is None:
                    self._send(401, json.dumps({"msg": "token invalid"}))
                    return
                body = reply.body if reply.body is not None else standin._default_body(key)
                self._send(reply.status, body, reply.headers)

            def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
                data = body.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        return Handler


def _load_directory(path: Path) -> dict[str, tuple[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv.DictReader(handle)
        return {
            row["official_name"]: (row["company_id"], row["unified_credit_code"]) for row in rows
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--directory", type=Path)
    parser.add_argument("--token", default="good-token")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    companies = _load_directory(args.directory) if args.directory else {}
    standin = EqcStandin(companies, token=args.token, delay=args.delay, port=args.port)
    print(f"EQC stand-in on {standin.url} (token {args.token!r}); Ctrl-C stops")
    with contextlib.suppress(KeyboardInterrupt):
        standin._server.serve_forever()


if __name__ == "__main__":
    main()
