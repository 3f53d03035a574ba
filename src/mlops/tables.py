"""Reading the raw monthly CSV files of a table, and writing stage outputs atomically."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.schema import SchemaViolationError


def month_files(data_dir: Path, table: str) -> list[Path]:
    """The table's files in month order."""
    return sorted((data_dir / table).glob("*.csv"))


def read_csv(path: Path) -> pd.DataFrame:
    """One raw file as text columns (the schema coerces types), refusing repeated column names.

    pandas would silently rename a repeated header to ``name.1``; the contract forbids it.
    """
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise SchemaViolationError(f"{path}: column names must be unique; repeated: {repeated}")
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["", "NA"])


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` and move the result over ``path``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes files private; outputs are meant to be shared
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, document: Any, sort_keys: bool = False) -> None:
    """Indented JSON with a final newline: small, diffable, the same bytes for the same data."""
    write_text(path, json.dumps(document, indent=2, sort_keys=sort_keys) + "\n")


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    write_atomically(path, lambda tmp: frame.to_parquet(tmp, index=False))
