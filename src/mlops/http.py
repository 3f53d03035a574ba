"""JSON over HTTP with the standard library: the one client the CLI's outgoing calls share
(webhooks, GitHub's API, smoke tests, replayed traffic). A failure is an ``MlopsError`` that
names the call, never the headers (they may hold a token)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from mlops.errors import MlopsError


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
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read()
            is_json = "json" in response.headers.get("Content-Type", "")
    except OSError as failure:  # URLError and HTTPError are OSErrors
        raise error(f"{what or url}: {failure}") from None
    if not answer:
        return None
    return json.loads(answer) if is_json else answer.decode()
