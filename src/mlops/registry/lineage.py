"""``mlops lineage``: everything that made a model version, read from git at its tags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops import git, yamlio
from mlops.config import params_sha256
from mlops.errors import MlopsError
from mlops.paths import GATE_JSON, METRICS_JSON
from mlops.registry import versions
from mlops.schema import PRODUCTION_TABLE


def json_at(commit: str, path: str | Path) -> Any:
    text = git.show(commit, path)
    return json.loads(text) if text else None


def resolve(version: str | None, stage: str | None) -> str:
    """The version asked for, or the one holding ``stage`` (production when neither is given)."""
    if version:
        return version
    stage = stage or versions.production_stage()
    holder = versions.current(stage)
    if holder is None:
        raise MlopsError(f"no version holds {stage}")
    return holder


def _data(commit: str, params: dict[str, Any]) -> dict[str, Any]:
    data_dvc = f"{params.get('data', {}).get('dir', 'data')}.dvc"
    outs = (yamlio.load(git.show(commit, data_dvc) or "{}") or {}).get("outs", [{}])
    meta = outs[0].get("meta", {})
    return {
        "md5": outs[0].get("md5"),
        "months": meta.get("months", []),
        "production": meta.get(PRODUCTION_TABLE, []),  # collected batches: log, period, labels
    }


def record(version: str) -> dict[str, Any]:
    """The lineage of one version: code, data, params, metrics, gate, registry history."""
    events = versions.history()
    registration = next(
        (e for e in events if e.kind == "registration" and e.version == version), None
    )
    if registration is None:
        raise MlopsError(f"{version} is not registered")
    commit = registration.commit
    params_text = git.show(commit, "params.yaml") or ""
    params = yamlio.load(params_text) or {}
    gate = json_at(commit, GATE_JSON) or {}
    train = params.get("train", {})
    return {
        "version": version,
        "tag": versions.tag(version),
        "git_commit": commit,
        "model_md5": versions.model_md5(commit),
        "model_sha256": registration.note.get("model_sha256"),  # the folder, as deployed
        "data": _data(commit, params),
        "params": {
            "sha256": params_sha256(params),
            "estimator": train.get("estimator"),
            "hyperparameters": train.get(train.get("estimator", ""), {}),
            "features": {
                key: params.get("features", {}).get(key) for key in ("categorical", "numeric")
            },
        },
        "metrics": json_at(commit, METRICS_JSON),
        "gate": {
            "verdict": gate.get("verdict"),
            "champion": (gate.get("champion") or {}).get("version"),
            "failed_rules": [rule["name"] for rule in gate.get("rules", []) if not rule["passed"]],
            "sha256": registration.note.get("gate_sha256"),
            "time": gate.get("time"),
        },
        "registered": {
            "actor": registration.note.get("actor"),
            "time": registration.time,
            "reason": registration.note.get("reason"),
        },
        "stages": [
            {
                "stage": e.stage,
                "actor": e.note.get("actor"),
                "time": e.time,
                "reason": e.note.get("reason"),
                "approval": e.note.get("approval"),  # production: who approved, where
                "tag": e.tag,
            }
            for e in events
            if e.kind == "assignment" and e.version == version
        ],
        "holds": sorted(
            stage for stage, holder in versions.current_stages(events).items() if holder == version
        ),
    }
