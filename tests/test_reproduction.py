"""`mlops check-reproduced`: a commit must record the model and the decision CI reproduces.

A synthetic project in a temporary git repository: what the check compares is the text of
dvc.lock and of the gate record, whatever the data and the model are.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlops.gitops import reproduction
from tests.conftest import run

LOCK = {
    "schema": "2.0",
    "stages": {
        "fit": {
            "cmd": "mlops train",
            "deps": [{"path": "features", "md5": "f" * 32}],
            "params": {"params.yaml": {"fit": {"depth": 3}}},
            "outs": [{"path": "model", "md5": "a" * 32 + ".dir"}],
        },
        "profile": {
            "cmd": "mlops profile",
            "deps": [{"path": "model", "md5": "a" * 32 + ".dir"}],
            "outs": [{"path": "reports/profile.json", "md5": "1" * 32}],
        },
    },
}
RECORD = {
    "verdict": "promote",
    "rules": [
        {"name": "floor accuracy", "value": 0.9, "passed": True},
        {"name": "latency p99_single_row_ms", "value": 0.42, "passed": True},
    ],
    "candidate": {"model_md5": "a" * 32 + ".dir", "p99_single_row_ms": 0.42},
    "champion": None,
    "data": {"md5": "d" * 32 + ".dir"},
    "params_sha256": "p" * 64,
    "time": "2026-12-01T10:00:00+00:00",
}


def write(repo: Path, lock: dict, record: dict) -> None:
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    (repo / "reports").mkdir(exist_ok=True)
    (repo / "reports/gate.json").write_text(json.dumps(record))


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    run("git", "init", "--quiet", cwd=tmp_path)
    write(tmp_path, LOCK, RECORD)
    run("git", "add", "--all", cwd=tmp_path)
    run("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "model", cwd=tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_reproduction_that_differs_only_in_timings_matches(repo: Path) -> None:
    lock = json.loads(json.dumps(LOCK))
    lock["stages"]["profile"]["outs"][0]["md5"] = "2" * 32  # another machine's timings
    record = {
        **RECORD,
        "rules": [RECORD["rules"][0], {**RECORD["rules"][1], "value": 7.5}],
        "candidate": {**RECORD["candidate"], "p99_single_row_ms": 7.5},
        "time": "2026-12-02T09:00:00+00:00",
    }
    write(repo, lock, record)
    assert reproduction.differences() == []


def test_a_commit_that_names_another_model_is_caught(repo: Path) -> None:
    """The committed dvc.lock and gate record name a model that the code and data do not make."""
    lock = json.loads(json.dumps(LOCK))
    lock["stages"]["fit"]["outs"][0]["md5"] = "b" * 32 + ".dir"
    write(repo, lock, {**RECORD, "candidate": {"model_md5": "b" * 32 + ".dir"}})
    found = reproduction.differences()
    assert any(line.startswith("dvc.lock fit: model: committed 'aaa") for line in found)
    assert any(line.startswith("reports/gate.json candidate model:") for line in found)


def test_a_hand_edited_verdict_is_caught_by_the_command(repo: Path) -> None:
    rejected = {
        **RECORD,
        "verdict": "reject",
        "rules": [{**RECORD["rules"][0], "passed": False}, RECORD["rules"][1]],
    }
    write(repo, LOCK, rejected)  # what CI reproduces; the commit says promote
    result = run("mlops", "check-reproduced", cwd=repo, check=False)
    assert result.returncode == 1
    assert "verdict: committed 'promote', reproduced 'reject'" in result.stderr
    assert "commit dvc.lock and reports/ unedited" in result.stderr
