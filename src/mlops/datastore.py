"""The versioned raw data: ``data/`` tracked by ``data.dvc``, one CSV per table and month.

``data.dvc`` records the hash and, in ``meta.months``, which months the version holds, so a
fresh clone can rebuild exactly that version from the configured source when no remote has it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from mlops import dvc
from mlops.config import Params
from mlops.errors import MlopsError
from mlops.progress import track
from mlops.sources import load_source


class DataMismatchError(MlopsError):
    """The bytes a source wrote are not the version ``data.dvc`` records."""


def dvc_file(params: Params) -> Path:
    return params.data.dir.with_suffix(".dvc")


def months(params: Params) -> list[str]:
    """The months of the data version in the workspace's ``data.dvc``."""
    path = dvc_file(params)
    if not path.exists():
        return []
    return list(dvc.tracked_output(path).get("meta", {}).get("months", []))


def _write_months(params: Params, wanted: list[str], every: int = 1) -> None:
    if params.data.source is None:
        raise DataMismatchError(
            "no data source configured (params.yaml: data.source) to build from"
        )
    source = load_source(params.data.source)
    for month in track(wanted, description="Writing months"):
        source.write_month(month, params.data.dir, every=every)


def _record(params: Params, version_months: list[str]) -> str:
    """``dvc add`` the data folder and note its months in ``data.dvc``; returns the new hash."""
    dvc.run("add", "--quiet", str(params.data.dir))
    path = dvc_file(params)
    document = yaml.safe_load(path.read_text())
    document["outs"][0]["meta"] = {"months": sorted(version_months)}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return document["outs"][0]["md5"]


def create(params: Params, wanted: list[str], every: int = 1) -> str:
    """Write a new data version holding exactly ``wanted`` months (every n-th main-table row)."""
    shutil.rmtree(params.data.dir, ignore_errors=True)
    _write_months(params, wanted, every)
    return _record(params, wanted)


def add_month(params: Params, month: str) -> str:
    """Add one month to the current version: how new data arrives. Returns the new hash."""
    current = months(params)
    if month in current:
        raise ValueError(f"{month} is already in {dvc_file(params)}")
    _write_months(params, [month])
    return _record(params, [*current, month])


def ensure(params: Params) -> str:
    """Make ``data/`` hold the version ``data.dvc`` records: as is, from the remote, or rebuilt.

    Local changes to ``data/`` are never overwritten. A rebuild must reproduce the recorded hash
    to the byte; otherwise it fails with both hashes and ``data.dvc`` stays as it was.
    """
    path, folder = dvc_file(params), params.data.dir
    if not dvc.run("status", "--quiet", str(path), check=False).returncode:
        return "present"
    if folder.exists() and any(folder.iterdir()):
        raise DataMismatchError(
            f"{folder}/ differs from {path}: record the change with `dvc add {folder}` "
            f"or discard it with `dvc checkout {path}`"
        )
    if dvc.run("pull", "--quiet", str(path), check=False).returncode == 0:
        return "pulled"
    recorded_text = path.read_text()
    expected = dvc.tracked_output(path)["md5"]
    _write_months(params, months(params))
    actual = _record(params, months(params))
    path.write_text(recorded_text)
    if actual != expected:
        raise DataMismatchError(
            f"rebuilt {folder}/ hashes to {actual}, but {path} records {expected}; "
            "the source's bytes differ from the recorded version (check the source package version)"
        )
    return "rebuilt"
