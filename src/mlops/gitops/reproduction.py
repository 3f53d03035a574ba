"""Did CI reproduce what the pull request commits?

A reviewer approves a commit: its ``dvc.lock`` names the model and its gate record the decision.
The required check retrains and re-gates in CI and compares the two with what is committed, so a
commit that names other bytes than its code and data make, or a gate record edited by hand,
fails before it can be merged and registered. Measurements of the machine are allowed to
differ: timings, and the last bits of floating-point agreement in the serving check (whose
stage fails on its own above its tolerance).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops import git, yamlio
from mlops.paths import GATE_JSON, PROFILE_JSON, SERVING_CHECK_JSON

LOCK = "dvc.lock"
# Outputs that measure the machine that ran them.
MEASUREMENTS = {str(PROFILE_JSON), str(SERVING_CHECK_JSON)}


def _lock_entries(text: str | None) -> dict[str, Any]:
    """Each stage's command, inputs and outputs, keyed so that two locks compare by entry."""
    entries: dict[str, Any] = {}
    for name, stage in ((yamlio.load(text or "") or {}).get("stages") or {}).items():
        entries[f"{name}: cmd"] = stage.get("cmd")
        entries[f"{name}: params"] = stage.get("params")
        for kind in ("deps", "outs"):
            for item in stage.get(kind, []):
                if item["path"] not in MEASUREMENTS:
                    entries[f"{name}: {item['path']}"] = item.get("md5")
    return entries


def _decision(text: str | None) -> dict[str, Any]:
    """What a gate record decides and about what: not the timings it measured on the way."""
    record = json.loads(text or "{}")
    return {
        "verdict": record.get("verdict"),
        "rules": [(rule.get("name"), rule.get("passed")) for rule in record.get("rules", [])],
        "candidate model": record.get("candidate", {}).get("model_md5"),
        "champion": (record.get("champion") or {}).get("version"),
        "champion model": (record.get("champion") or {}).get("model_md5"),
        "data": record.get("data", {}).get("md5"),
        "params": record.get("params_sha256"),
    }


def _changed(committed: dict[str, Any], reproduced: dict[str, Any], label: str) -> list[str]:
    return [
        f"{label} {key}: committed {committed.get(key)!r}, reproduced {reproduced.get(key)!r}"
        for key in sorted(committed.keys() | reproduced.keys())
        if committed.get(key) != reproduced.get(key)
    ]


def differences(revision: str = "HEAD", workspace: Path = Path(".")) -> list[str]:
    """Where the workspace's reproduced ``dvc.lock`` and gate record differ from ``revision``'s."""
    lock, record = (workspace / LOCK, workspace / GATE_JSON)
    return [
        *_changed(
            _lock_entries(git.show(revision, LOCK)),
            _lock_entries(lock.read_text() if lock.exists() else None),
            LOCK,
        ),
        *_changed(
            _decision(git.show(revision, GATE_JSON)),
            _decision(record.read_text() if record.exists() else None),
            str(GATE_JSON),
        ),
    ]
