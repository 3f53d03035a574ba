"""Reading the raw monthly CSV files of a table, and writing stage outputs atomically."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.errors import MlopsError
from mlops.schema import SchemaViolationError

if TYPE_CHECKING:  # reading and writing JSON, as registry commands do, needs no pandas
    import pandas as pd


class RawFileError(MlopsError):
    """A raw file holds no rows to read: empty, only a header, binary, or not UTF-8 text."""


def month_files(data_dir: Path, table: str) -> list[Path]:
    """The table's files in month order."""
    return sorted((data_dir / table).glob("*.csv"))


def read_csv(path: Path) -> pd.DataFrame:
    """One raw file as text columns (the schema coerces types), refusing repeated column names.

    pandas would silently rename a repeated header to ``name.1``; the contract forbids it. A file
    that is not UTF-8 text with at least one row fails with ``RawFileError`` naming it, rather
    than a parser's traceback or an empty table that passes every check.
    """
    import pandas as pd

    text = _text(path)
    header = next(csv.reader(io.StringIO(text)), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise SchemaViolationError(f"{path}: column names must be unique; repeated: {repeated}")
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=["", "NA"])
    if frame.empty:
        raise RawFileError(f"{path}: no rows, only a header; remove the file or add its rows")
    return frame


def count_rows(path: Path) -> int:
    """The data rows of a raw file (records, not lines: a quoted value may span lines)."""
    return max(sum(1 for record in csv.reader(io.StringIO(_text(path))) if record) - 1, 0)


def _text(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise RawFileError(f"{path}: the file is empty; a raw file needs a header and rows")
    if b"\0" in data:
        raise RawFileError(f"{path}: binary, not UTF-8 CSV text (Parquet, compressed, UTF-16?)")
    try:
        return data.decode("utf-8-sig")  # a byte-order mark is not part of the header
    except UnicodeDecodeError as error:
        raise RawFileError(
            f"{path}: not UTF-8 text (byte {error.start}); re-save the file as UTF-8"
        ) from None


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
