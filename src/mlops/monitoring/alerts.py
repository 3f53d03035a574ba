"""Alerts to a chat webhook: the URL comes from ``$MLOPS_ALERT_WEBHOOK``, never from files.

The body is ``{"text": ...}``, which Slack and Microsoft Teams incoming webhooks both accept.
"""

from __future__ import annotations

import os

from mlops import http
from mlops.errors import MlopsError

WEBHOOK_ENV = "MLOPS_ALERT_WEBHOOK"
TIMEOUT_S = 10


def post(text: str, url: str | None = None) -> None:
    """Send ``text``; a missing URL or a refused post is an error, never silent."""
    url = url or os.environ.get(WEBHOOK_ENV)
    if not url:
        raise MlopsError(f"no webhook to alert: set {WEBHOOK_ENV}")
    # The URL holds the webhook's secret: errors name the webhook, not the URL.
    http.request_json(url, {"text": text}, timeout=TIMEOUT_S, what="the alert webhook")
