"""Stage ``featurize``: clean tables -> model frame -> train / validation / holdout files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mlops import columns
from mlops.config import Params
from mlops.data.split import split
from mlops.paths import CLEAN_DIR, FEATURES_DIR, SPLIT_JSON
from mlops.schema import PRODUCTION_TABLE
from mlops.tables import write_json, write_parquet
from project import features


def part_path(name: str) -> Path:
    return FEATURES_DIR / f"{name}.parquet"


def summary(part: pd.DataFrame, time_column: str | None) -> dict[str, Any]:
    """Rows and positive rate of a part, and the time it spans when rows have a time."""
    facts: dict[str, Any] = {
        "rows": len(part),
        "positive_rate": round(float(part[columns.LABEL].mean()), 6),
    }
    if time_column is not None:
        facts |= {
            "start": part[time_column].min().isoformat(),
            "end": part[time_column].max().isoformat(),
        }
    return facts


def run(params: Params) -> dict[str, Any]:
    """Build the model frame and split it (``split.method``); returns the split summary."""
    tables = {path.stem: pd.read_parquet(path) for path in sorted(CLEAN_DIR.glob("*.parquet"))}
    production = tables.pop(PRODUCTION_TABLE, None)
    frame = features.build(tables, params)
    if production is not None:  # collected rows are features already: they join here
        frame = pd.concat([frame, production], ignore_index=True)
    for name in params.features.categorical:  # one form per category, as the model sees it
        frame[name] = columns.category_text(frame[name])
    parts = split(
        frame,
        params.split,
        params.data.time_column,
        columns.LABEL if params.task.classifies else None,
    )
    summaries = {name: summary(part, params.data.time_column) for name, part in parts.items()}
    for name, part in parts.items():
        write_parquet(part, part_path(name))
    write_json(SPLIT_JSON, summaries)
    return summaries
