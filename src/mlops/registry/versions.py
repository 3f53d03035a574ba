"""The model registry: versions and stages as GTO git tags, with the order and proof enforced.

Rules GTO leaves to its users: stages are taken in the order ``.gto`` lists them; the last
(production) needs the one before it, a gate record that says promote for exactly this model,
and an approval; nothing is registered without such a record. Every tag carries who, when, why,
and the hash of the gate record it relied on. A tag is a plain git object that anyone with push
rights can make, so the tags are audited against these rules every time a stage is read
(`audit`): a tag made by hand, out of order or naming other bytes stops the reader.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from mlops import artifact, dvc, git, yamlio
from mlops.config import GateParams
from mlops.errors import MlopsError
from mlops.paths import GATE_JSON
from mlops.registry import gto_adapter
from mlops.registry.gate_rules import decide

GTO_CONFIG = Path(".gto")
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
    return list(yamlio.load(GTO_CONFIG.read_text())["stages"])


def production_stage() -> str:
    return stage_order()[-1]


def current_stages(events: list[gto_adapter.Event] | None = None) -> dict[str, str]:
    """Which version holds each stage now: the last assignment of each, in audited history
    (``events``, when the caller has just read it)."""
    events = history() if events is None else events
    return {event.stage: event.version for event in events if event.stage is not None}


def current(stage: str) -> str | None:
    """The version that holds ``stage`` now."""
    return current_stages().get(stage)


def history() -> list[gto_adapter.Event]:
    """Every registration and assignment, oldest first, once every tag passes the audit."""
    events = gto_adapter.history(model_entry().name)
    findings = audit(events)
    if findings:
        listed = "; ".join(f"{finding.tag}: {finding.problem}" for finding in findings)
        raise RegistryError(
            f"the registry's tags fail the audit ({listed}). Delete each tag named "
            "(`git push origin :refs/tags/<tag>`) and redo the step with `mlops registry`"
        )
    return events


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
    text = git.show(revision, GATE_JSON)
    if text is None:
        raise RegistryError(
            f"no gate record ({GATE_JSON}) at {revision}: run `mlops gate` "
            "and commit its record with the model"
        )
    return json.loads(text), hashlib.sha256(text.encode("utf-8")).hexdigest()


def _rules_at(revision: str) -> GateParams:
    """The gate rules of ``params.yaml`` at ``revision``."""
    params = yamlio.load(git.show(revision, "params.yaml") or "{}") or {}
    return GateParams.model_validate(params.get("gate", {}))


def _follows_from_its_numbers(record: dict[str, Any], revision: str) -> None:
    """A record's rules and verdict must be what the rules of ``revision`` make of its own
    numbers: a verdict or a rule edited by hand is refused, not trusted."""
    try:
        rules = decide(
            _rules_at(revision), record["candidate"], record["champion"], record.get("evidence")
        )
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


def _versions() -> list[gto_adapter.Event]:
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
        yamlio.load(git.show(rev, "params.yaml") or "{}") for rev in (previous_commit, revision)
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
    actor: str,
    reason: str,
    revision: str = "HEAD",
    version: str | None = None,
    push: bool = False,
    on_branch: str | None = None,
) -> str:
    """Register the model committed at ``revision`` and put it in the first stage; with
    ``on_branch``, only a commit that branch holds (what was reviewed and merged)."""
    commit = git.commit(revision)
    if on_branch is not None and not git.is_on(commit, on_branch):
        raise RegistryError(
            f"{commit[:12]} is not on {on_branch}: only a merged model is registered"
        )
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
    gto_adapter.register(entry.name, commit, version, note, push)
    gto_adapter.assign(entry.name, version, stage_order()[0], _note(actor, "registered"), push)
    return version


def promote(
    version: str,
    stage: str,
    actor: str,
    reason: str,
    push: bool = False,
    approval: dict[str, str] | None = None,
) -> None:
    """Assign ``stage`` to ``version`` if it holds the stage before and, for production, a
    promote record. Production records its ``approval`` (from GitHub, else the local actor's):
    the approver is whoever approved, never a name typed beside it."""
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
        approval = approval or {"source": "local", "approver": actor}
        actor = approval["approver"]
        extra = {"gate_sha256": digest, "approval": approval}
    note = _note(actor, reason, **extra)
    # A version that held the stage before (then rolled back) takes it with a new assignment.
    gto_adapter.assign(model_entry().name, version, stage, note, push, again=stage in reached)


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
    gto_adapter.assign(model_entry().name, previous, stage, note, push, again=True)
    return now, previous


PLATFORM_NOTE = ("actor", "reason", "time")
REGISTRATION_NOTE = (*PLATFORM_NOTE, "gate_sha256", "model_md5", "model_sha256")


@dataclass(frozen=True)
class Finding:
    """A tag that breaks a rule the platform makes tags by."""

    tag: str
    problem: str


def _missing(note: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [key for key in keys if not isinstance(note.get(key), str) or not note[key]]


def _registration_problem(event: gto_adapter.Event) -> str | None:
    """Why a registration is not the platform's: its note, or the gate record and model bytes
    its note names against what is committed at its commit."""
    missing = _missing(event.note, REGISTRATION_NOTE)
    if missing:
        return f"not made by `mlops registry register` (its note lacks {', '.join(missing)})"
    try:
        digest = _promotable(event.commit)
    except RegistryError as error:
        return str(error)
    if digest != event.note["gate_sha256"]:
        return "the gate record committed with the model is not the one it was registered on"
    if event.note["model_md5"] != model_md5(event.commit):
        return "the model in dvc.lock is not the one it was registered as"
    return None


def _assignment_problem(
    event: gto_adapter.Event,
    registered: dict[str, gto_adapter.Event],
    held: set[tuple[str, str | None]],
    github_approvals: bool,
) -> str | None:
    """Why an assignment is not the platform's, given the registrations and assignments that
    came before it."""
    order = stage_order()
    missing = _missing(event.note, PLATFORM_NOTE)
    if missing:
        return f"not made by `mlops registry` (its note lacks {', '.join(missing)})"
    if event.version not in registered:
        return f"{event.version} was not registered before"
    if event.stage not in order:
        return f"unknown stage {event.stage!r}"
    if "rollback_from" in event.note:
        if (event.version, event.stage) not in held:
            return f"a rollback to {event.version}, which never held {event.stage}"
        return None
    before = order[: order.index(event.stage)]
    skipped = [stage for stage in before if (event.version, stage) not in held]
    if skipped:
        return f"{event.version} had not been in {', '.join(skipped)}"
    if event.stage != order[-1]:
        return None
    if event.note.get("gate_sha256") != registered[event.version].note["gate_sha256"]:
        return "its gate record is not the one the version was registered on"
    approval = event.note.get("approval")
    if not isinstance(approval, dict) or approval.get("approver") != event.note["actor"]:
        return "production without an approval whose approver is the actor"
    if github_approvals and approval.get("source") != "github":
        return f"approved {approval.get('source')}, not in a GitHub environment"
    return None


def audit(
    events: list[gto_adapter.Event] | None = None, github_approvals: bool = False
) -> list[Finding]:
    """Every tag against the platform's rules, oldest first: made by `mlops registry` (a
    structured note), registered on a gate record that follows from its numbers and names the
    committed model, stages in order, production with its gate record and an approval (from a
    GitHub environment, when ``github_approvals``)."""
    events = gto_adapter.history(model_entry().name) if events is None else events
    registered: dict[str, gto_adapter.Event] = {}
    held: set[tuple[str, str | None]] = set()
    findings: list[Finding] = []
    for event in sorted(events, key=lambda e: (e.kind != "registration", e.order, e.time)):
        if event.kind == "registration":
            problem = _registration_problem(event)
            registered[event.version] = event
        elif event.kind == "assignment":
            problem = _assignment_problem(event, registered, held, github_approvals)
            held.add((event.version, event.stage))
        else:
            problem = f"a {event.kind}: the platform never makes one"
        if problem:
            findings.append(Finding(event.tag, problem))
    return findings
