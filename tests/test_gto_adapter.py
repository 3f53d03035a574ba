"""The GTO adapter against real tags in a temporary git repository: registrations, assignments,
forced reassignments, the history it reads back (kinds, order, JSON notes) and GTO's failures."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from mlops.registry import gto_adapter
from mlops.registry.gto_adapter import Event, GtoError

GTO_CONFIG = "stages: [dev, staging, prod]\n"
DVC_YAML = "artifacts:\n  model:\n    path: model\n    type: model\n"
NOTE = {"actor": "alice", "reason": "first model", "gate_sha256": "ab" * 32, "nested": {"n": [1]}}


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(message: str) -> str:
    Path("model.txt").write_text(message)
    git("add", "--all")
    git("commit", "--quiet", "-m", message)
    return git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with the project's stages and a `model` artifact, as the working
    directory (the CLI runs inside the repository)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    git("init", "--quiet", "--initial-branch=main")
    git("config", "user.name", "Test")
    git("config", "user.email", "test@example.com")
    Path(".gto").write_text(GTO_CONFIG)
    Path("dvc.yaml").write_text(DVC_YAML)
    commit("first model")
    return repo


def tags(events: list[Event]) -> list[str]:
    return [event.tag for event in events]


def test_register_and_assign_read_back_with_the_note(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = git("rev-parse", "HEAD")
    gto_adapter.register("model", "HEAD", "v1.0.0", NOTE, push=False)
    gto_adapter.assign("model", "v1.0.0", "dev", {"actor": "alice", "reason": "registered"}, False)

    registration, dev = gto_adapter.history("model")
    assert registration == Event(
        kind="registration",
        version="v1.0.0",
        stage=None,
        commit=head,
        time=registration.time,
        tag="model@v1.0.0",
        note=NOTE,
    )
    assert (dev.kind, dev.version, dev.stage, dev.commit, dev.tag) == (
        "assignment",
        "v1.0.0",
        "dev",
        head,
        "model#dev#1",
    )
    assert dev.note == {"actor": "alice", "reason": "registered"}
    assert (registration.order, dev.order) == (0, 1)
    # The tag message is the note as JSON, untouched.
    assert json.loads(git("tag", "-l", "--format=%(contents)", "model@v1.0.0")) == NOTE
    # Times are ISO 8601 strings with the offset, as `gto history --json` gave them.
    for event in (registration, dev):
        assert isinstance(event.time, str)
        assert datetime.fromisoformat(event.time).utcoffset() is not None
    # GTO prints nothing in process: stdout stays the platform's (`--json`).
    assert capsys.readouterr().out == ""


def test_history_is_oldest_first_with_forced_reassignments(repo: Path) -> None:
    first = git("rev-parse", "HEAD")
    gto_adapter.register("model", first, "v1.0.0", NOTE, False)
    for stage in ("dev", "staging", "prod"):
        gto_adapter.assign("model", "v1.0.0", stage, {"reason": stage}, False)
    second = commit("second model")
    gto_adapter.register("model", second, "v2.0.0", NOTE, False)
    for stage in ("dev", "staging", "prod"):
        gto_adapter.assign("model", "v2.0.0", stage, {"reason": stage}, False)

    with pytest.raises(GtoError, match="already in stage 'prod'") as raised:
        gto_adapter.assign("model", "v1.0.0", "prod", {"reason": "rollback"}, False)
    assert str(raised.value).startswith("gto assign model --version v1.0.0 --stage prod failed: ")
    gto_adapter.assign("model", "v1.0.0", "prod", {"reason": "rollback"}, False, again=True)

    events = gto_adapter.history("model")
    assert {event.kind for event in events} == {"registration", "assignment"}
    assignments = [event for event in events if event.kind == "assignment"]
    assert [event.order for event in assignments] == list(range(1, 8))
    assert [(event.version, event.stage) for event in assignments] == [
        ("v1.0.0", "dev"),
        ("v1.0.0", "staging"),
        ("v1.0.0", "prod"),
        ("v2.0.0", "dev"),
        ("v2.0.0", "staging"),
        ("v2.0.0", "prod"),
        ("v1.0.0", "prod"),
    ]
    assert assignments[-1].tag == "model#prod#7"
    assert assignments[-1].note == {"reason": "rollback"}
    # Each registration comes before its version's first assignment; times never go back.
    for version, registered_at in (("v1.0.0", first), ("v2.0.0", second)):
        registration = events.index(next(e for e in events if e.tag == f"model@{version}"))
        assert events[registration].commit == registered_at
        assert registration < events.index(next(e for e in assignments if e.version == version))
    assert [event.time for event in events] == sorted(event.time for event in events)
    # The order the platform relies on: time, then registrations before assignments, then number.
    assert events == sorted(events, key=lambda e: (e.time, e.kind == "assignment", e.order))


def test_a_message_that_is_not_a_json_object_is_kept_as_the_message(repo: Path) -> None:
    git("tag", "-a", "model@v1.0.0", "-m", "made by hand")
    git("tag", "-a", "model#dev#1", "-m", '["a", "list"]')
    assert [(event.kind, event.note) for event in gto_adapter.history("model")] == [
        ("registration", {"message": "made by hand"}),
        ("assignment", {"message": '["a", "list"]'}),
    ]


def test_gto_failures_are_gto_errors_with_gto_message(repo: Path) -> None:
    gto_adapter.register("model", "HEAD", "v1.0.0", NOTE, False)
    with pytest.raises(GtoError, match="already registered") as raised:
        gto_adapter.register("model", "HEAD", "v1.0.0", NOTE, False)
    assert str(raised.value).startswith("gto register model HEAD --version v1.0.0 failed: ")
    commit("second model")
    with pytest.raises(GtoError, match="already was registered"):
        gto_adapter.register("model", "HEAD", "v1.0.0", NOTE, False)
    # Failures underneath GTO (git's) too, as GTO's command line reported them.
    with pytest.raises(GtoError, match="unknown Git revision 'nowhere'"):
        gto_adapter.register("model", "nowhere", "v2.0.0", NOTE, False)
    with pytest.raises(GtoError, match=r"'v9\.0\.0' is not registered"):
        gto_adapter.assign("model", "v9.0.0", "dev", NOTE, False)
    # Nothing half-made: the one registration, no assignment.
    assert tags(gto_adapter.history("model")) == ["model@v1.0.0"]
    assert gto_adapter.history("other") == []


def test_outside_a_repository_history_fails_with_gto_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GtoError, match="not a git repository"):
        gto_adapter.history("model")


def test_push_sends_the_tags_to_origin(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", str(remote))
    git("remote", "add", "origin", str(remote))
    git("push", "--quiet", "origin", "main")
    gto_adapter.register("model", "HEAD", "v1.0.0", NOTE, push=True)
    gto_adapter.assign("model", "v1.0.0", "dev", NOTE, push=True)
    pushed = git("ls-remote", "--tags", str(remote))
    assert "refs/tags/model@v1.0.0" in pushed
    assert "refs/tags/model#dev#1" in pushed


def test_a_failed_push_is_a_gto_error(repo: Path) -> None:
    with pytest.raises(GtoError, match=r"`git push origin model@v1\.0\.0` failed"):
        gto_adapter.register("model", "HEAD", "v1.0.0", NOTE, push=True)


def test_the_events_are_the_ones_gto_history_json_gives(repo: Path) -> None:
    """The command line this adapter replaced, as the reference: same fields, same order."""
    gto = Path(sys.executable).parent / "gto"
    if not gto.exists():
        pytest.skip("no gto command beside this Python")
    gto_adapter.register("model", "HEAD", "v1.0.0", NOTE, False)
    gto_adapter.assign("model", "v1.0.0", "dev", {"reason": "dev"}, False)
    gto_adapter.assign("model", "v1.0.0", "staging", {"reason": "staging"}, False)
    gto_adapter.assign("model", "v1.0.0", "dev", {"reason": "again"}, False, again=True)
    output = subprocess.run(
        [str(gto), "history", "model", "--json"], capture_output=True, text=True, check=True
    ).stdout
    expected = sorted(
        (
            Event(
                kind=entry["event"],
                version=entry.get("version") or "",
                stage=entry.get("stage"),
                commit=entry["commit"],
                time=entry["timestamp"],
                tag=entry["ref"],
                note=json.loads(entry["message"]),
            )
            for entry in json.loads(output)
            if entry["event"] != "commit"
        ),
        key=lambda event: (event.time, event.kind == "assignment", event.order),
    )
    assert gto_adapter.history("model") == expected
