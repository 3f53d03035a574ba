"""The one adapter to GitHub's REST API: issues, repository dispatches, deployment approvals.

Everything it needs comes from the environment a workflow step has: ``GITHUB_TOKEN``,
``GITHUB_REPOSITORY`` and ``GITHUB_API_URL`` (a GitHub Enterprise server, or a local stand-in in
tests). It never prints the token. Swap this module to reach another forge.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote, urlencode

from mlops import http
from mlops.errors import MlopsError

API_URL = "https://api.github.com"
TIMEOUT_S = 30


class GitHubError(MlopsError):
    """GitHub refused a call, or the environment lacks what a call needs."""


def _environment(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise GitHubError(f"${name} is not set (a workflow step has it)")
    return value


def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One REST call on the current repository (``path`` after ``/repos/OWNER/NAME``)."""
    base = os.environ.get("GITHUB_API_URL", API_URL).rstrip("/")
    url = f"{base}/repos/{_environment('GITHUB_REPOSITORY')}{path}"
    headers = {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {_environment('GITHUB_TOKEN')}",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    return http.request_json(
        url,
        body,
        headers,
        method,
        TIMEOUT_S,
        what=f"GitHub refused {method} {path}",
        error=GitHubError,
    )


def upsert_issue(title: str, body: str, label: str) -> dict[str, Any]:
    """Open an issue, or comment on the open one with the same label and title (one per topic).

    The label goes into the query encoded (it may hold spaces, ``&`` or ``#``); GitHub reads
    ``labels`` as a comma-separated list, so a label with a comma cannot be searched for.
    """
    query = urlencode({"state": "open", "labels": label, "per_page": 100})
    open_issues = call("GET", f"/issues?{query}") or []
    existing = next((issue for issue in open_issues if issue["title"] == title), None)
    if existing is None:
        issue = call("POST", "/issues", {"title": title, "body": body, "labels": [label]})
        return {"issue": issue["number"], "action": "opened"}
    comment(existing["number"], body)
    return {"issue": existing["number"], "action": "commented"}


def comment(number: int, body: str) -> None:
    """Comment on an issue or pull request."""
    call("POST", f"/issues/{number}/comments", {"body": body})


def dispatch(event_type: str, payload: dict[str, Any]) -> None:
    """Start the workflows listening for ``repository_dispatch`` of ``event_type``."""
    call("POST", "/dispatches", {"event_type": event_type, "client_payload": payload})


def approver(run_id: str, environment: str) -> str:
    """Who approved ``environment`` in workflow run ``run_id`` (the last approval counts)."""
    reviews = call("GET", f"/actions/runs/{quote(run_id, safe='')}/approvals") or []
    approved = [
        review["user"]["login"]
        for review in reviews
        if review.get("state") == "approved"
        and any(env.get("name") == environment for env in review.get("environments", []))
    ]
    if not approved:
        raise GitHubError(f"nobody approved {environment!r} in run {run_id}")
    return approved[-1]
