"""The versioned raw data: ``data/`` tracked by ``data.dvc``, one folder of CSV files per table.

``data.dvc`` records the hash and, in ``meta``, what the version holds: per table its partitions
and rows, ``months`` (the main table's months) and where collected production batches came from.
Everything but the batches is derived from the folder whenever a version is recorded, so it
cannot go stale. A fresh clone rebuilds the recorded months from the configured source when no
remote has them.
"""

from __future__ import annotations

import re
import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mlops import dvc, yamlio
from mlops.config import Params
from mlops.errors import MlopsError
from mlops.progress import track
from mlops.schema import PRODUCTION_TABLE
from mlops.tables import count_rows, month_files, read_csv, write_atomically
from project.sources import Source, load_source

MONTH = re.compile(r"\d{4}-\d{2}")


class DataMismatchError(MlopsError):
    """The bytes a source wrote are not the version ``data.dvc`` records."""


class DataUnavailableError(MlopsError):
    """The recorded version is on no reachable remote and cannot be rebuilt on this machine."""


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


def _partitions(files: list[Path]) -> dict[str, Any]:
    return {"partitions": [path.stem for path in files], "rows": sum(map(count_rows, files))}


def describe(params: Params) -> dict[str, Any]:
    """What the data folder holds: per table its partitions (file stems) and rows."""
    folder = params.data.dir
    tables = {
        table.name: _partitions(month_files(folder, table.name))
        for table in sorted(folder.iterdir())
        if table.is_dir()
    }
    main = tables.get(params.data.table, {}).get("partitions", [])
    return {"months": [name for name in main if MONTH.fullmatch(name)], "tables": tables}


def _source(params: Params) -> Source:
    if params.data.source is None:
        raise DataUnavailableError(
            "no data source configured (params.yaml: data.source is null): add files with "
            "`mlops data import PATH... --table NAME`, which needs no source module"
        )
    return load_source(params.data.source)


def _write_months(source: Source, data_dir: Path, wanted: list[str], every: int = 1) -> None:
    for month in track(wanted, description="Writing months"):
        source.write_month(month, data_dir, every=every)


def _add(params: Params) -> str:
    """``dvc add`` the data folder; returns its new hash."""
    dvc.run("add", "--quiet", str(params.data.dir))
    return dvc.tracked_output(dvc_file(params))["md5"]


def record(params: Params, batch: dict[str, Any] | None = None) -> str:
    """Record the data folder as the new version, described in ``data.dvc``; returns its hash.

    ``batch`` is the provenance of production rows just added; earlier batches are kept while
    the version still holds a production table.
    """
    batches = [*_meta(params).get(PRODUCTION_TABLE, []), *([batch] if batch else [])]
    md5 = _add(params)
    meta = describe(params)
    if PRODUCTION_TABLE in meta["tables"] and batches:
        meta[PRODUCTION_TABLE] = batches
    path = dvc_file(params)
    document = yamlio.load(path.read_text())
    document["outs"][0]["meta"] = meta
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return md5


def create(params: Params, wanted: list[str], every: int = 1) -> str:
    """Write a new data version holding exactly ``wanted`` months (every n-th main-table row)."""
    source = _source(params)
    shutil.rmtree(params.data.dir, ignore_errors=True)
    _write_months(source, params.data.dir, wanted, every)
    return record(params)


def add_month(params: Params, month: str) -> str:
    """Add one month to the current version: how new data arrives. Returns the new hash."""
    if month in months(params):
        raise ValueError(f"{month} is already in {dvc_file(params)}")
    _write_months(_source(params), params.data.dir, [month])
    return record(params)


def as_text(rows: pd.DataFrame) -> pd.DataFrame:
    """Values as the raw CSV files write them: text, times in UTC with a Z, missing as NA."""
    text = pd.DataFrame(index=rows.index)
    for name, column in rows.items():
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            text[name] = column.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        else:
            text[name] = column.map(str).where(column.notna())
    return text


def _to_csv(part: pd.DataFrame, path: Path) -> None:
    part.to_csv(path, index=False, na_rep="NA")


def add_production(params: Params, rows: pd.DataFrame, provenance: dict[str, Any]) -> str:
    """Add collected, labelled rows (one file per month) as a new version; returns its hash.

    Months are those of ``data.time_column``, or of ``served_at`` when the data has no time.
    ``data.dvc`` lists every batch with where it came from, so lineage reaches back to the log.
    """
    folder = params.data.dir / PRODUCTION_TABLE
    folder.mkdir(parents=True, exist_ok=True)
    month = rows[params.data.time_column or "served_at"].dt.strftime("%Y-%m")
    for name, part in as_text(rows).groupby(month, sort=True):
        path = folder / f"{name}.csv"
        if path.exists():  # a later batch replaces rows it shares with an earlier one
            part = pd.concat([read_csv(path), part], ignore_index=True)
        part = part.drop_duplicates(["request_id", "row"], keep="last")
        write_atomically(path, partial(_to_csv, part))
    return record(params, provenance)


def _default_remote() -> str:
    name = dvc.run("remote", "default", check=False).stdout.strip()
    if not name:
        return "no default DVC remote (none is configured)"
    url = dvc.run("config", f"remote.{name}.url", check=False).stdout.strip()
    return f"the default DVC remote {name!r} ({url})"


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
            f"{folder}/ differs from {path}: record the change with `mlops data add` "
            f"(`dvc add {folder}`) or discard it with `dvc checkout {path}`"
        )
    if dvc.run("pull", "--quiet", str(path), check=False).returncode == 0:
        return "pulled"
    if params.data.source is None or PRODUCTION_TABLE in _meta(params):
        why = (
            "data.source is null, so the DVC remote is the only source"
            if params.data.source is None
            else f"{path} holds collected production rows, which only `dvc pull` can restore"
        )
        raise DataUnavailableError(
            f"{why}, and `dvc pull` from {_default_remote()} failed. Point this clone at the "
            "remote that has the data (`dvc remote add -d NAME URL`), or run `dvc push` on the "
            "machine that has it; see docs/data.md"
        )
    recorded_text = path.read_text()
    expected = dvc.tracked_output(path)["md5"]
    _write_months(_source(params), folder, months(params))
    actual = _add(params)
    path.write_text(recorded_text)
    if actual != expected:
        raise DataMismatchError(
            f"rebuilt {folder}/ hashes to {actual}, but {path} records {expected}; "
            "the source's bytes differ from the recorded version (check the source package version)"
        )
    return "rebuilt"
