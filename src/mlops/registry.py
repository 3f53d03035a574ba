"""The model registry: versions and stages as GTO git tags, with the order and proof enforced.

Rules GTO leaves to its users: stages are taken in the order ``.gto`` lists them; the last
(production) needs the one before it and a gate record that says promote for exactly this model;
nothing is registered without such a record. Every tag carries who, when, why, and the hash of
the gate record it relied on.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from mlops import artifact, dvc, git, gto_cli
from mlops.config import GateParams
from mlops.errors import MlopsError
from mlops.gate_rules import decide

GTO_CONFIG = Path(".gto")
GATE_RECORD = "reports/gate.json"
Bump = Literal["major", "minor", "patch"]


class RegistryError(MlopsError):
    """A registry operation is not allowed; the message says what is missing."""


@dataclass(frozen=True)
class ModelEntry:
    """The model artifact that ``dvc.yaml`` declares (``type: model``)."""

    name: str
    path: str


def model_entry() -> ModelEntry:
    models = [
        ModelEntry(name, body["path"])
        for name, body in dvc.artifacts().items()
        if body.get("type") == "model"
    ]
    if len(models) != 1:
        raise RegistryError(
            f"dvc.yaml must declare exactly one artifact of type model, found {len(models)}"
        )
    return models[0]


def stage_order() -> list[str]:
    """The stages, in the order a version must pass them (from ``.gto``)."""
    return list(yaml.safe_load(GTO_CONFIG.read_text())["stages"])


def production_stage() -> str:
    return stage_order()[-1]


def current_stages() -> dict[str, str]:
    """Which version holds each stage now."""
    return gto_cli.stages(model_entry().name)


def current(stage: str) -> str | None:
    """The version that holds ``stage`` now."""
    return current_stages().get(stage)


def history() -> list[gto_cli.Event]:
    return gto_cli.history(model_entry().name)


def tag(version: str) -> str:
    return f"{model_entry().name}@{version}"


def _get(revision: str, target: Path) -> Path:
    """The model folder committed at ``revision``, from the DVC cache or the remote."""
    dvc.run("get", ".", model_entry().path, "--rev", revision, "--out", str(target))
    return target


def fetch(version: str, destination: Path) -> Path:
    """The model folder of ``version``, checked against the sha256 recorded at registration."""
    target = _get(tag(version), destination / version)
    check_folder(version, target)
    return target


def check_folder(version: str, folder: Path) -> None:
    """Refuse a folder whose bytes are not the ones registered as ``version`` (a tampered cache
    or remote, an edited file); versions registered before the hash was recorded pass."""
    registration = next(
        (e for e in history() if e.kind == "registration" and e.version == version), None
    )
    expected = registration.note.get("model_sha256") if registration else None
    actual = artifact.digest(folder)
    if expected is not None and actual != expected:
        raise RegistryError(
            f"the model folder of {version} in {folder} has sha256 {actual}, but {version} was "
            f"registered as {expected}: the cache or the remote holds other bytes"
        )


def model_md5(revision: str) -> str | None:
    """The model's hash in ``dvc.lock`` at ``revision``: what identifies a model."""
    lock = git.show(revision, "dvc.lock")
    return dvc.locked_md5(lock, model_entry().path) if lock else None


def gate_record(revision: str) -> tuple[dict[str, Any], str]:
    """The gate record committed at ``revision`` and its SHA-256."""
    text = git.show(revision, GATE_RECORD)
    if text is None:
        raise RegistryError(
            f"no gate record ({GATE_RECORD}) at {revision}: run `mlops gate` "
            "and commit its record with the model"
        )
    return json.loads(text), hashlib.sha256(text.encode("utf-8")).hexdigest()


def _rules_at(revision: str) -> GateParams:
    """The gate rules of ``params.yaml`` at ``revision``."""
    params = yaml.safe_load(git.show(revision, "params.yaml") or "{}") or {}
    return GateParams.model_validate(params.get("gate", {}))


def _follows_from_its_numbers(record: dict[str, Any], revision: str) -> None:
    """A record's rules and verdict must be what the rules of ``revision`` make of its own
    numbers: a verdict or a rule edited by hand is refused, not trusted."""
    try:
        rules = decide(_rules_at(revision), record["candidate"], record["champion"])
    except (KeyError, TypeError, ValueError) as error:
        raise RegistryError(f"the gate record at {revision} is incomplete: {error!r}") from None
    derived = [(rule.name, rule.passed) for rule in rules]
    recorded = [(rule.get("name"), rule.get("passed")) for rule in record.get("rules", [])]
    verdict = "promote" if all(passed for _, passed in derived) else "reject"
    if derived != recorded or record.get("verdict") != verdict:
        changed = sorted(set(recorded) ^ set(derived))
        raise RegistryError(
            f"the gate record at {revision} does not follow from its numbers and the gate rules "
            f"of params.yaml there (differs in {changed or 'verdict'}): run `mlops gate` again "
            "and commit its record unedited"
        )


def _promotable(revision: str) -> str:
    """The gate record's hash, if it says promote for the model committed at ``revision`` and
    its verdict follows from its own numbers."""
    record, digest = gate_record(revision)
    _follows_from_its_numbers(record, revision)
    if record.get("verdict") != "promote":
        failed = [rule["name"] for rule in record.get("rules", []) if not rule["passed"]]
        raise RegistryError(
            f"the gate record at {revision} says {record.get('verdict')!r} "
            f"(failed: {', '.join(failed) or 'none listed'})"
        )
    committed = model_md5(revision)
    if record["candidate"].get("model_md5") != committed:
        raise RegistryError(
            f"the gate record at {revision} is for model "
            f"{record['candidate'].get('model_md5')}, but dvc.lock there records {committed}"
        )
    return digest


def _note(actor: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "actor": actor,
        "reason": reason,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }


def _versions() -> list[gto_cli.Event]:
    return [event for event in history() if event.kind == "registration"]


def _semver(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in version.lstrip("v").split("."))
    return major, minor, patch


def bump_kind(previous_commit: str, revision: str) -> Bump:
    """The documented rule: inputs changed -> major, training changed -> minor, else patch.

    Callers build requests from the model's inputs, so a new feature list breaks them; new
    hyperparameters or an estimator change the model but not its interface; a retrain on new
    data with the same parameters is a patch.
    """
    before, after = (
        yaml.safe_load(git.show(rev, "params.yaml") or "{}") for rev in (previous_commit, revision)
    )
    inputs = [
        (params.get("features", {}).get("categorical"), params.get("features", {}).get("numeric"))
        for params in (before, after)
    ]
    if inputs[0] != inputs[1]:
        return "major"
    if before.get("train") != after.get("train") or before.get("features") != after.get("features"):
        return "minor"
    return "patch"


def next_version(revision: str) -> str:
    registered = _versions()
    if not registered:
        return "v1.0.0"
    latest = max(registered, key=lambda event: _semver(event.version))
    major, minor, patch = _semver(latest.version)
    kind = bump_kind(latest.commit, revision)
    bumped = {
        "major": (major + 1, 0, 0),
        "minor": (major, minor + 1, 0),
        "patch": (major, minor, patch + 1),
    }[kind]
    return "v{}.{}.{}".format(*bumped)


def register(
    actor: str, reason: str, revision: str = "HEAD", version: str | None = None, push: bool = False
) -> str:
    """Register the model committed at ``revision`` and put it in the first stage."""
    commit = git.commit(revision)
    gate_sha256 = _promotable(commit)
    if any(event.commit == commit for event in _versions()):
        raise RegistryError(f"the model at {commit[:12]} is registered already")
    version = version or next_version(commit)
    entry = model_entry()
    with tempfile.TemporaryDirectory() as scratch:  # the committed folder, not the workspace's
        folder_sha256 = artifact.digest(_get(commit, Path(scratch) / "model"))
    note = _note(
        actor,
        reason,
        gate_sha256=gate_sha256,
        model_md5=model_md5(commit),
        model_sha256=folder_sha256,
    )
    gto_cli.register(entry.name, commit, version, note, push)
    gto_cli.assign(entry.name, version, stage_order()[0], _note(actor, "registered"), push)
    return version


def promote(version: str, stage: str, actor: str, reason: str, push: bool = False) -> None:
    """Assign ``stage`` to ``version`` if it holds the stage before and, for production, a
    promote record."""
    order = stage_order()
    if stage not in order:
        raise RegistryError(f"unknown stage {stage!r}; stages are {order}")
    events = history()
    registration = next(
        (e for e in events if e.kind == "registration" and e.version == version), None
    )
    if registration is None:
        raise RegistryError(f"{version} is not registered")
    reached = {e.stage for e in events if e.kind == "assignment" and e.version == version}
    needed = order[: order.index(stage)]
    missing = [name for name in needed if name not in reached]
    if missing:
        raise RegistryError(
            f"{version} cannot go to {stage}: it has not been in {', '.join(missing)} "
            f"(order: {' -> '.join(order)})"
        )
    extra: dict[str, Any] = {}
    if stage == order[-1]:
        digest = _promotable(registration.commit)
        if digest != registration.note.get("gate_sha256"):
            raise RegistryError(f"the gate record of {version} changed after it was registered")
        extra["gate_sha256"] = digest
    note = _note(actor, reason, **extra)
    # A version that held the stage before (then rolled back) takes it with a new assignment.
    gto_cli.assign(model_entry().name, version, stage, note, push, again=stage in reached)


def rollback(
    actor: str, reason: str, stage: str | None = None, push: bool = False
) -> tuple[str, str]:
    """Give ``stage`` (production by default) back to the version that held it before."""
    stage = stage or production_stage()
    assignments = [e for e in history() if e.kind == "assignment" and e.stage == stage]
    holders = [e.version for e in sorted(assignments, key=lambda event: event.order)]
    if not holders:
        raise RegistryError(f"no version has been in {stage}")
    now = holders[-1]
    earlier = [version for version in holders if version != now]
    if not earlier:
        raise RegistryError(
            f"{now} is the only version that has been in {stage}: nothing to roll back to"
        )
    previous = earlier[-1]
    note = _note(actor, reason or f"rollback from {now}", rollback_from=now)
    gto_cli.assign(model_entry().name, previous, stage, note, push, again=True)
    return now, previous
