"""A stand-in for GitHub's REST API on loopback: the calls the workflows make, recorded.

GitHub is out of reach here; ``mlops.github`` reads ``GITHUB_API_URL``, so pointing it at this
server exercises the real adapter (URLs, methods, headers, bodies) end to end.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPOSITORY = "team/flights"


@dataclass
class FakeGitHub:
    url: str = ""
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {
            "GITHUB_API_URL": self.url,
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_TOKEN": "test-token",
        }

    def answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        self.calls.append((method, path, body))
        path = path.removeprefix(f"/repos/{REPOSITORY}")
        if method == "GET" and path.startswith("/issues?"):
            label = re.search(r"labels=([^&]+)", path).group(1)  # type: ignore[union-attr]
            return 200, [i for i in self.issues.values() if label in i["labels"]]
        if method == "POST" and path == "/issues":
            number = len(self.issues) + 1
            self.issues[number] = {"number": number, **body, "comments": []}
            return 201, self.issues[number]
        if match := re.fullmatch(r"/issues/(\d+)/comments", path):
            number = int(match.group(1))
            self.issues.setdefault(number, {"number": number, "labels": [], "comments": []})
            self.issues[number]["comments"].append(body["body"])
            return 201, {"id": 1}
        if method == "POST" and path == "/dispatches":
            return 204, None
        if re.fullmatch(r"/actions/runs/\d+/approvals", path):
            return 200, self.approvals
        if match := re.fullmatch(r"/pulls/(\d+)", path):
            return 200, self.pulls[int(match.group(1))]
        return 404, {"message": f"not found: {method} {path}"}

    def dispatches(self) -> list[Any]:
        return [body for method, path, body in self.calls if path.endswith("/dispatches")]


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            assert self.headers["Authorization"] == "Bearer test-token"
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = fake.answer(self.command, self.path, body)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _reply  # noqa: N815 (http.server's names)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield fake
    finally:
        server.shutdown()
