"""The GitHub adapter and the workflows' policies, against the loopback stand-in."""

from __future__ import annotations

import pytest

from mlops import github, gitops
from mlops.config import GitOpsParams
from mlops.local_github import LocalGitHub, local_github

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
    plan = gitops.retrain_plan(GitOpsParams(retrain=mode), record)
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
