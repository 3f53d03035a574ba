"""The one adapter to GTO: model versions and stages as git tags, through GTO's Python API in
process (``gto.api``), with the repository in the working directory.

Tag messages carry a JSON object (actor, reason, gate record hash, ...); GTO stores and returns
them untouched, so the registry needs no server and no file of its own. The calls are the ones
GTO's command line makes (``gto register``, ``gto assign``, ``gto history --json``), without a
process per call; GTO is imported on the first call, so commands that never touch the registry
do not pay for it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

from mlops.errors import MlopsError

_REPO = "."  # the CLI runs inside the repository; GTO finds its root and `.gto` from here
_ASSIGNMENT_NUMBER = re.compile(r"#(\d+)$")


class GtoError(MlopsError):
    """A GTO operation failed; the message carries GTO's."""


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


def _api() -> ModuleType:
    import gto.api

    # Importing GTO gives its logger a handler on stdout, which would mix GTO's warnings into
    # the platform's output (`--json`); without it they reach the root logger (stderr).
    logger, stdout = logging.getLogger("gto"), (sys.stdout, sys.__stdout__)
    for handler in list(logger.handlers):
        if isinstance(handler, logging.StreamHandler) and handler.stream in stdout:
            logger.removeHandler(handler)
    return gto.api


@contextmanager
def _failures(what: str) -> Iterator[None]:
    """Any failure inside GTO (its own or one underneath it, which GTO's command line reported
    alike) as a GtoError with its message."""
    try:
        yield
    except Exception as error:
        message = str(error).strip() or type(error).__name__
        raise GtoError(f"gto {what} failed: {message}") from error


def _note(message: str) -> dict[str, Any]:
    try:
        note = json.loads(message)
    except json.JSONDecodeError:
        return {"message": message.strip()}
    return note if isinstance(note, dict) else {"message": message.strip()}


def _time(timestamp: datetime | str) -> str:
    """The tag's time as ``gto history --json`` wrote it (ISO 8601, with the offset)."""
    return timestamp.isoformat() if isinstance(timestamp, datetime) else str(timestamp)


def history(artifact: str) -> list[Event]:
    """Every tag of ``artifact`` (registrations, assignments and any other GTO event), oldest
    first."""
    api = _api()
    with _failures(f"history {artifact}"):
        entries = api.history(_REPO, artifact, ascending=False, table=False)
    events = [
        Event(
            kind=entry["event"],
            version=entry.get("version") or "",
            stage=entry.get("stage"),
            commit=entry["commit"],
            time=_time(entry["timestamp"]),
            tag=entry["ref"],
            note=_note(entry.get("message") or ""),
        )
        for entry in entries
        if entry["event"] != "commit"
    ]
    return sorted(events, key=lambda event: (event.time, event.kind == "assignment", event.order))


def register(artifact: str, ref: str, version: str, note: dict[str, Any], push: bool) -> None:
    api = _api()
    with _failures(f"register {artifact} {ref} --version {version}"):
        api.register(_REPO, artifact, ref, version=version, message=json.dumps(note), push=push)


def assign(
    artifact: str, version: str, stage: str, note: dict[str, Any], push: bool, again: bool = False
) -> None:
    """Tag a stage assignment; ``again`` makes a new one for a version that held the stage
    before (a rollback)."""
    api = _api()
    with _failures(f"assign {artifact} --version {version} --stage {stage}"):
        api.assign(
            _REPO,
            artifact,
            stage,
            version=version,
            message=json.dumps(note),
            simple=None,  # what `gto assign` passes ("auto"): numbered tags, as before
            force=again,
            push=push,
        )
