"""The GitHub adapter and the workflows' policies, against the loopback stand-in."""

from __future__ import annotations

import pytest

from mlops.config import GitOpsParams
from mlops.gitops import github, policies
from mlops.gitops.local_github import TOKEN, LocalGitHub, local_github

PROMOTE = {"verdict": "promote", "rules": [{"name": "floor roc_auc", "passed": True}]}
REJECT = {"verdict": "reject", "rules": [{"name": "min improvement roc_auc", "passed": False}]}


@pytest.fixture
def forge(monkeypatch: pytest.MonkeyPatch) -> LocalGitHub:
    with local_github() as stand_in:
        for key, value in stand_in.env().items():
            monkeypatch.setenv(key, value)
        yield stand_in


@pytest.mark.parametrize(
    ("mode", "record", "action"),
    [
        ("propose", PROMOTE, "propose"),
        ("auto", PROMOTE, "merge"),
        ("alert", PROMOTE, "report"),
        ("auto", REJECT, "report"),  # a worse model is never proposed, let alone merged
        ("propose", REJECT, "report"),
    ],
)
def test_retrain_plan(mode: str, record: dict, action: str) -> None:
    plan = policies.retrain_plan(GitOpsParams(retrain=mode), record)
    assert plan["action"] == action
    if record is REJECT:
        assert "min improvement roc_auc" in plan["reason"]


def test_one_issue_per_topic_then_comments(forge: LocalGitHub) -> None:
    assert github.upsert_issue("Model drift", "first", "monitoring") == {
        "issue": 1,
        "action": "opened",
    }
    assert github.upsert_issue("Model drift", "second", "monitoring")["action"] == "commented"
    assert forge.issues[1]["comments"] == ["second"]
    assert github.upsert_issue("Other", "x", "monitoring")["issue"] == 2


def test_the_approver_is_who_approved_that_environment(forge: LocalGitHub) -> None:
    with pytest.raises(github.GitHubError, match="nobody approved"):
        github.approver("7", "production")
    forge.approve("staging", "bob")
    with pytest.raises(github.GitHubError):
        github.approver("7", "production")
    forge.approve("production", "alice")
    assert github.approver("7", "production") == "alice"


def test_without_a_token_the_adapter_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_REPOSITORY", "team/model")
    with pytest.raises(github.GitHubError, match="GITHUB_TOKEN"):
        github.dispatch("retrain", {})


@pytest.mark.parametrize("label", ["model monitoring", "drift & skew", "#1 priority", "a=b+c%20"])
def test_a_label_is_sent_encoded_and_found_again(forge: LocalGitHub, label: str) -> None:
    # A prefix of the label (what an unencoded query would send) labels another issue.
    assert github.upsert_issue("Model drift", "prefix", label[:2])["issue"] == 1
    assert github.upsert_issue("Model drift", "first", label) == {"issue": 2, "action": "opened"}
    assert github.upsert_issue("Model drift", "second", label) == {
        "issue": 2,
        "action": "commented",
    }
    assert forge.issues[2]["labels"] == [label]
    assert forge.issues[2]["comments"] == ["second"]


def test_a_refusal_carries_githubs_message(
    forge: LocalGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(github.GitHubError) as invalid:
        github.upsert_issue("", "no title", "monitoring")
    said = str(invalid.value)
    assert said.startswith("GitHub refused POST /issues: HTTP Error 422")
    assert "Validation Failed" in said
    assert '"code": "missing_field", "field": "title"' in said

    monkeypatch.setenv("GITHUB_REPOSITORY", "team/elsewhere")
    with pytest.raises(github.GitHubError) as missing:
        github.dispatch("retrain", {})
    # GitHub's message repeats the status line here, and is not said twice.
    assert str(missing.value) == "GitHub refused POST /dispatches: HTTP Error 404: Not Found"


def test_a_body_that_is_not_json_is_quoted_on_one_line(forge: LocalGitHub) -> None:
    # http.server answers a method it lacks with its own HTML page.
    with pytest.raises(github.GitHubError) as unsupported:
        github.call("DELETE", "/issues/1")
    said = str(unsupported.value)
    assert "HTTP Error 501" in said
    assert "Server does not support this operation" in said  # only the page says that
    assert "\n" not in said


def test_a_url_urllib_cannot_send_is_an_error_not_a_traceback(
    forge: LocalGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", f"{forge.url}/api v3")
    with pytest.raises(github.GitHubError, match="GitHub refused POST /dispatches"):
        github.dispatch("retrain", {})


def test_no_error_shows_the_token(forge: LocalGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    failures = []
    for call in (
        lambda: github.upsert_issue("", "", "monitoring"),  # 422
        lambda: github.approver("not-a-run", "production"),  # 404
    ):
        with pytest.raises(github.GitHubError) as failure:
            call()
        failures.append(str(failure.value))
    wrong = "ghp_not-the-rehearsal-token"
    monkeypatch.setenv("GITHUB_TOKEN", wrong)
    with pytest.raises(github.GitHubError, match="HTTP Error 401: Unauthorized: Bad credentials"):
        github.comment(1, "hello")
    assert all(TOKEN not in said for said in failures)
    assert wrong not in str(failure.value)


def test_a_service_that_echoes_the_request_does_not_put_the_token_in_the_error() -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from mlops import http
    from mlops.errors import MlopsError

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # a debug endpoint: the request's headers in its refusal
            body = f"bad request; you sent {self.headers['Authorization']}".encode()
            self.send_response(400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with (
        http.in_background(ThreadingHTTPServer(("127.0.0.1", 0), Echo)) as url,
        pytest.raises(MlopsError) as failure,
    ):
        http.request_json(f"{url}/", headers=http.bearer("s3cret-token"))
    assert str(failure.value).endswith("you sent ***")
    assert "s3cret-token" not in str(failure.value)
