"""Data sources that can materialise months of raw data on a machine with no DVC remote.

A source is a module with ``TABLES`` (the table names it writes) and
``write_month(month, data_dir, every=1) -> list[Path]``. ``params.yaml`` (``data.source``) names
the one in use; the platform never imports a source by name. With ``data.source: null`` the DVC
remote is the only source, and ``mlops data import`` brings files without writing a module.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol, cast


class Source(Protocol):
    TABLES: tuple[str, ...]

    def write_month(self, month: str, data_dir: Path, every: int = 1) -> list[Path]: ...


def load_source(module: str) -> Source:
    """Import the source module named in ``params.yaml``."""
    return cast(Source, importlib.import_module(module))
