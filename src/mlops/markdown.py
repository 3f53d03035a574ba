"""GitHub-flavoured markdown tables: the one writer behind every page and comment the platform
writes, so that a value holding ``|`` or a line break (a category, a file name) cannot break
a table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

_ALIGN = {"l": "---", "r": "---:"}


def cell(value: Any) -> str:
    """``value`` as one table cell's text."""
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _row(cells: Sequence[Any]) -> str:
    return "| " + " | ".join(cell(value) for value in cells) + " |"


def table(header: Sequence[Any], rows: Iterable[Sequence[Any]], align: str = "") -> list[str]:
    """The table's lines; ``align`` has a letter per column, ``l`` (the default) or ``r``."""
    marks = align.ljust(len(header), "l")
    return [_row(header), "|" + "|".join(_ALIGN[mark] for mark in marks) + "|"] + [
        _row(row) for row in rows
    ]
