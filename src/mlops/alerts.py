"""Alerts to a chat webhook: the URL comes from ``$MLOPS_ALERT_WEBHOOK``, never from files.

The body is ``{"text": ...}``, which Slack and Microsoft Teams incoming webhooks both accept.
"""

from __future__ import annotations

import json
import os
import urllib.request

from mlops.errors import MlopsError

WEBHOOK_ENV = "MLOPS_ALERT_WEBHOOK"
TIMEOUT_S = 10


def post(text: str, url: str | None = None) -> None:
    """Send ``text``; a missing URL or a refused post is an error, never silent."""
    url = url or os.environ.get(WEBHOOK_ENV)
    if not url:
        raise MlopsError(f"no webhook to alert: set {WEBHOOK_ENV}")
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            response.read()
    except OSError as error:  # URLError and HTTPError are OSErrors; the URL may hold a secret
        raise MlopsError(f"the alert webhook refused the post: {error}") from None
