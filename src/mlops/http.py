"""JSON over HTTP with the standard library: the one client the CLI's outgoing calls share
(webhooks, GitHub's API, smoke tests, replayed traffic). A failure is an ``MlopsError`` that
names the call and what the service said, never the headers (they may hold a token). And the
one way a loopback stand-in (the local GitHub, tests' webhooks) serves in the background."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.client import InvalidURL
from http.server import HTTPServer
from typing import Any

from mlops.errors import MlopsError

DETAIL_CHARS = 300  # of a refusal's body: enough for the reason, not a whole HTML page
DETAIL_BYTES = 64 * 1024  # read no more of a refusal's body than this
# How often a background server checks whether to stop: each stop waits up to this (the
# standard library's 0.5 s made every stand-in's stop half a second).
SHUTDOWN_POLL_S = 0.05


def bearer(token: str | None) -> dict[str, str]:
    """The header that carries a service's bearer token; none without a token."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def request_json(
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
    timeout: float = 30,
    what: str = "",
    error: type[MlopsError] = MlopsError,
) -> Any:
    """Send ``body`` as JSON (GET without one); the answer decoded when it is JSON, its text
    otherwise (a chat webhook answers ``ok``), ``None`` when empty."""
    data = None if body is None else json.dumps(body).encode()
    try:
        request = urllib.request.Request(
            url,
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
            method=method,
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read()
            is_json = "json" in response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as failure:  # the "why" is in the body, not the status line
        with failure:
            said = _hidden(_refusal(failure), headers or {})
        detail = f": {said}" if said and said != failure.reason else ""  # not "Not Found" twice
        raise error(f"{what or url}: {failure}{detail}") from None
    except (OSError, ValueError, InvalidURL) as failure:  # unreachable, or a URL it cannot send
        raise error(f"{what or url}: {failure}") from None
    if not answer:
        return None
    return json.loads(answer) if is_json else answer.decode()


def _refusal(failure: urllib.error.HTTPError) -> str:
    """What the service said about refusing: a JSON ``message`` (GitHub's and many APIs' shape)
    with its ``errors`` when they are short, else the start of the body on one line."""
    try:
        text = failure.read(DETAIL_BYTES).decode(errors="replace")
    except OSError:  # the connection died mid-body: the status line is all there is
        return ""
    try:
        said = json.loads(text)
    except ValueError:
        said = None
    if isinstance(said, dict) and isinstance(said.get("message"), str):
        message = " ".join(said["message"].split())[:DETAIL_CHARS]
        errors = json.dumps(said["errors"]) if said.get("errors") else ""
        return f"{message} {errors}" if errors and len(errors) <= DETAIL_CHARS else message
    return " ".join(text.split())[:DETAIL_CHARS]


def _hidden(text: str, headers: dict[str, str]) -> str:
    """``text`` with every secret the headers sent blanked out (a service that echoes its
    request must not put the token in a log)."""
    for name, value in headers.items():
        if name.lower() == "authorization":
            token = value.rpartition(" ")[2]  # "Bearer <token>": the whole value, then the token
            for secret in (value, token) if token else (value,):
                text = text.replace(secret, "***")
    return text


@contextmanager
def in_background(server: HTTPServer) -> Iterator[str]:
    """``server`` answering on a thread of its own until the block ends; yields its URL."""
    thread = threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
