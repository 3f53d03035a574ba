"""The versioned raw data: ``data/`` tracked by ``data.dvc``, one CSV per table and month.

``data.dvc`` records the hash and, in ``meta.months``, which months the version holds, so a
fresh clone can rebuild exactly that version from the configured source when no remote has it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mlops import dvc
from mlops.config import Params
from mlops.errors import MlopsError
from mlops.progress import track
from mlops.schema import PRODUCTION_TABLE
from mlops.sources import load_source
from mlops.tables import read_csv, write_atomically


class DataMismatchError(MlopsError):
    """The bytes a source wrote are not the version ``data.dvc`` records."""


def dvc_file(params: Params) -> Path:
    return params.data.dir.with_suffix(".dvc")


def _meta(params: Params) -> dict[str, Any]:
    path = dvc_file(params)
    return dict(dvc.tracked_output(path).get("meta", {})) if path.exists() else {}


def months(params: Params) -> list[str]:
    """The months of the data version in the workspace's ``data.dvc``."""
    return list(_meta(params).get("months", []))


def production_rows(params: Params) -> int:
    """How many collected production rows the workspace's data version holds."""
    return sum(batch["rows"] for batch in _meta(params).get(PRODUCTION_TABLE, []))


def _write_months(params: Params, wanted: list[str], every: int = 1) -> None:
    if params.data.source is None:
        raise DataMismatchError(
            "no data source configured (params.yaml: data.source) to build from"
        )
    source = load_source(params.data.source)
    for month in track(wanted, description="Writing months"):
        source.write_month(month, params.data.dir, every=every)


def _record(params: Params, meta: dict[str, Any]) -> str:
    """``dvc add`` the data folder and note what it holds in ``data.dvc``; returns the new hash."""
    dvc.run("add", "--quiet", str(params.data.dir))
    path = dvc_file(params)
    document = yaml.safe_load(path.read_text())
    document["outs"][0]["meta"] = meta
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return document["outs"][0]["md5"]


def create(params: Params, wanted: list[str], every: int = 1) -> str:
    """Write a new data version holding exactly ``wanted`` months (every n-th main-table row)."""
    shutil.rmtree(params.data.dir, ignore_errors=True)
    _write_months(params, wanted, every)
    return _record(params, {"months": sorted(wanted)})


def add_month(params: Params, month: str) -> str:
    """Add one month to the current version: how new data arrives. Returns the new hash."""
    current = months(params)
    if month in current:
        raise ValueError(f"{month} is already in {dvc_file(params)}")
    _write_months(params, [month])
    return _record(params, _meta(params) | {"months": sorted([*current, month])})


def as_text(rows: pd.DataFrame) -> pd.DataFrame:
    """Values as the raw CSV files write them: text, times in UTC with a Z, missing as NA."""
    text = pd.DataFrame(index=rows.index)
    for name, column in rows.items():
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            text[name] = column.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        else:
            text[name] = column.map(str).where(column.notna())
    return text


def add_production(params: Params, rows: pd.DataFrame, provenance: dict[str, Any]) -> str:
    """Add collected, labelled rows (one file per month) as a new version; returns its hash.

    ``data.dvc`` lists every batch with where it came from, so lineage reaches back to the log.
    """
    folder = params.data.dir / PRODUCTION_TABLE
    folder.mkdir(parents=True, exist_ok=True)
    month = rows[params.data.time_column].dt.strftime("%Y-%m")
    for name, part in as_text(rows).groupby(month, sort=True):
        path = folder / f"{name}.csv"
        if path.exists():  # a later batch replaces rows it shares with an earlier one
            part = pd.concat([read_csv(path), part], ignore_index=True)
        part = part.drop_duplicates(["request_id", "row"], keep="last")
        write_atomically(path, lambda tmp, part=part: part.to_csv(tmp, index=False, na_rep="NA"))
    meta = _meta(params)
    batches = [*meta.get(PRODUCTION_TABLE, []), provenance]
    return _record(params, meta | {PRODUCTION_TABLE: batches})


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
    if PRODUCTION_TABLE in _meta(params):
        raise DataMismatchError(
            f"{path} holds collected production rows, which only `dvc pull` can restore: "
            "configure the DVC remote that has them"
        )
    recorded_text = path.read_text()
    expected = dvc.tracked_output(path)["md5"]
    _write_months(params, months(params))
    actual = _record(params, _meta(params))
    path.write_text(recorded_text)
    if actual != expected:
        raise DataMismatchError(
            f"rebuilt {folder}/ hashes to {actual}, but {path} records {expected}; "
            "the source's bytes differ from the recorded version (check the source package version)"
        )
    return "rebuilt"
