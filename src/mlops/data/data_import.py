"""``mlops data import``: a team's CSV or Parquet files into the versioned layout, no source module.

A table with ``data.time_column`` is split into one file per month (UTC), merged with the month
files already there; any other table, and any ``--lookup``, is kept whole as
``<table>/<table>.csv``. Values stay text (CSV values byte for byte) so the schema, not the
import, decides their types. The folder is then recorded as a new version.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
from pyarrow import ArrowException

from mlops.config import Params
from mlops.data import datastore
from mlops.errors import MlopsError
from mlops.schema import PRODUCTION_TABLE
from mlops.tables import RawFileError, read_csv, write_atomically

_TABLE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class DataImportError(MlopsError):
    """A file cannot be imported as it is; the message names the file and what to change."""


def _read(path: Path) -> pd.DataFrame:
    """The file's rows as text: CSV as read by the pipeline, Parquet values as CSV writes them."""
    if path.suffix.lower() != ".parquet":
        return read_csv(path)
    try:
        frame = pd.read_parquet(path, dtype_backend="numpy_nullable")
    except ArrowException as error:
        raise RawFileError(f"{path}: not a readable Parquet file ({error})") from None
    if frame.empty:
        raise RawFileError(f"{path}: no rows")
    return datastore.as_text(frame).reset_index(drop=True)


def _require_columns(frame: pd.DataFrame, path: Path, expected: list[str], other: Path) -> None:
    missing = sorted(set(expected) - set(frame.columns))
    extra = sorted(set(frame.columns) - set(expected))
    if missing or extra:
        raise DataImportError(
            f"{path}: its columns differ from {other}'s: missing {missing}, extra {extra}; "
            "a table's files must share one header"
        )


def _months(frame: pd.DataFrame, path: Path, column: str) -> pd.Series:
    """``YYYY-MM`` of each row's time, or an error quoting values that are not times."""
    times = pd.to_datetime(frame[column], utc=True, errors="coerce")
    bad = frame[column][times.isna()]
    if len(bad):
        examples = bad.fillna("(missing)").unique()[:5].tolist()
        raise DataImportError(
            f"{path}: column {column!r} (data.time_column) has {len(bad)} values that are not "
            f"times, e.g. {examples}; fix them, or import with --lookup to keep the file whole"
        )
    return times.dt.strftime("%Y-%m")


def _merge(path: Path, rows: pd.DataFrame, source: Path) -> None:
    """Add ``rows`` to the table file at ``path``; rows already there are not repeated."""
    if path.exists():
        existing = read_csv(path)
        _require_columns(rows, source, list(existing.columns), path)
        rows = pd.concat([existing, rows[existing.columns]], ignore_index=True)
    rows = rows.drop_duplicates()
    write_atomically(path, lambda tmp: rows.to_csv(tmp, index=False, na_rep="NA"))


def import_files(
    params: Params, paths: list[Path], table: str, lookup: bool = False, new: bool = False
) -> tuple[list[Path], str]:
    """Write the files' rows into ``<data.dir>/<table>/`` and record the version.

    ``new`` starts a version that holds only these files (a fork's first import leaves the
    template's example data out); otherwise they are added to the version in ``data/``.
    Returns the table files written and the new hash of the data folder.
    """
    if not _TABLE_NAME.fullmatch(table) or table == PRODUCTION_TABLE:
        raise DataImportError(
            f"--table {table!r}: use a plain folder name (letters, digits, _ . -); "
            f"{PRODUCTION_TABLE!r} is written by `mlops retrain-from-production`"
        )
    if new:
        shutil.rmtree(params.data.dir, ignore_errors=True)
    elif datastore.dvc_file(params).exists() and not params.data.dir.exists():
        raise DataImportError(
            f"{datastore.dvc_file(params)} records a version that is not in {params.data.dir}/: "
            "run `mlops data pull` first to add to it, or import with --new to start a new "
            "version without it"
        )
    folder, time = params.data.dir / table, params.data.time_column
    written: set[Path] = set()
    for path in paths:
        rows = _read(path)
        if lookup or time is None or time not in rows:
            parts = {table: rows}
        else:
            parts = dict(tuple(rows.groupby(_months(rows, path, time), sort=True)))
        for name, part in parts.items():
            target = folder / f"{name}.csv"
            _merge(target, part, path)
            written.add(target)
    return sorted(written), datastore.record(params)
