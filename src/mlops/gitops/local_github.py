"""A stand-in for GitHub's REST API on loopback, for rehearsals: the calls workflows make.

``mlops.gitops.github`` reads ``GITHUB_API_URL``; pointed at this server, the real adapter (URLs,
methods, headers, bodies) runs end to end with GitHub out of reach. It keeps issues and
comments, records dispatches, and answers approvals with what the rehearsal set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mlops import http

REPOSITORY = "team/model"
TOKEN = "rehearsal-token"
DOCS = "https://docs.github.com/rest"


def refusal(message: str, **details: Any) -> dict[str, Any]:
    """An error body in GitHub's shape, so the adapter's error reporting is exercised."""
    return {"message": message, **details, "documentation_url": DOCS}


@dataclass
class LocalGitHub:
    url: str = ""
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    approvals: list[dict[str, Any]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            "GITHUB_API_URL": self.url,
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_TOKEN": TOKEN,
        }

    def answer(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        """GitHub's status and JSON answer to ``method`` on ``target`` (a path and query)."""
        self.calls.append((method, target, body))
        url = urlsplit(target)
        path = url.path.removeprefix(f"/repos/{REPOSITORY}")
        if method == "GET" and path == "/issues":
            # ``labels`` is comma-separated; an issue must carry every one (as on GitHub).
            wanted = [
                label for label in parse_qs(url.query).get("labels", [""])[0].split(",") if label
            ]
            return 200, [i for i in self.issues.values() if all(w in i["labels"] for w in wanted)]
        if method == "POST" and path == "/issues":
            if not (body or {}).get("title"):  # GitHub's 422, for the adapter's error reports
                missing = {"resource": "Issue", "code": "missing_field", "field": "title"}
                return 422, refusal("Validation Failed", errors=[missing])
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
        return 404, refusal("Not Found")

    def approve(self, environment: str, login: str) -> None:
        """The reviewer's approval the next ``approvals`` call answers with."""
        self.approvals = [
            {"state": "approved", "user": {"login": login}, "environments": [{"name": environment}]}
        ]

    def dispatches(self) -> list[Any]:
        return [body for method, path, body in self.calls if path.endswith("/dispatches")]


@contextmanager
def local_github() -> Iterator[LocalGitHub]:
    forge = LocalGitHub()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            if self.headers["Authorization"] != f"Bearer {TOKEN}":
                status, answer = 401, refusal("Bad credentials")
            else:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                status, answer = forge.answer(self.command, self.path, body)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _reply  # noqa: N815 (http.server's names)

        def log_message(self, *args: Any) -> None:
            pass

    with http.in_background(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        forge.url = url
        yield forge
