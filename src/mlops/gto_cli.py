"""The one adapter to GTO: model versions and stages as git tags, through GTO's command line.

Tag messages carry a JSON object (actor, reason, gate record hash, ...); GTO stores and returns
them untouched, so the registry needs no server and no file of its own.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.errors import MlopsError

_GTO = str(Path(sys.executable).parent / "gto")
_ASSIGNMENT_NUMBER = re.compile(r"#(\d+)$")


class GtoError(MlopsError):
    """A GTO command failed; the message carries what GTO printed."""


@dataclass(frozen=True)
class Event:
    """One registry operation, as a tag recorded it."""

    kind: str  # "registration", "assignment", or a GTO event the platform never makes
    version: str
    stage: str | None
    commit: str
    time: str
    tag: str
    note: dict[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> int:
        """Assignment tags are numbered in the order they were made; registrations come first."""
        found = _ASSIGNMENT_NUMBER.search(self.tag)
        return int(found[1]) if found else 0


def _run(*args: str) -> str:
    result = subprocess.run([_GTO, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GtoError(f"gto {' '.join(args)} failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def _note(message: str) -> dict[str, Any]:
    try:
        note = json.loads(message)
    except json.JSONDecodeError:
        return {"message": message.strip()}
    return note if isinstance(note, dict) else {"message": message.strip()}


def history(artifact: str) -> list[Event]:
    """Every tag of ``artifact`` (registrations, assignments and any other GTO event), oldest
    first."""
    events = [
        Event(
            kind=entry["event"],
            version=entry.get("version") or "",
            stage=entry.get("stage"),
            commit=entry["commit"],
            time=entry["timestamp"],
            tag=entry["ref"],
            note=_note(entry.get("message") or ""),
        )
        for entry in json.loads(_run("history", artifact, "--json"))
        if entry["event"] != "commit"
    ]
    return sorted(events, key=lambda event: (event.time, event.kind == "assignment", event.order))


def _flags(note: dict[str, Any], push: bool, force: bool = False) -> list[str]:
    return [
        "--message",
        json.dumps(note),
        *(["--push"] if push else []),
        *(["--force"] if force else []),
    ]


def register(artifact: str, ref: str, version: str, note: dict[str, Any], push: bool) -> None:
    _run("register", artifact, ref, "--version", version, *_flags(note, push))


def assign(
    artifact: str, version: str, stage: str, note: dict[str, Any], push: bool, again: bool = False
) -> None:
    """Tag a stage assignment; ``again`` makes a new one for a version that held the stage
    before (a rollback)."""
    _run("assign", artifact, "--version", version, "--stage", stage, *_flags(note, push, again))
