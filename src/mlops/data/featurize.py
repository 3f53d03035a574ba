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
from mlops.task import Task
from project import features


def part_path(name: str) -> Path:
    return FEATURES_DIR / f"{name}.parquet"


def label_summary(labels: pd.Series, task: Task) -> dict[str, Any]:
    """What the labels of some rows are like: the positive rate, each class's share, or the
    mean target."""
    if task is Task.MULTICLASS:
        shares = labels.value_counts(normalize=True).sort_index()
        return {"class_shares": {str(name): round(float(v), 6) for name, v in shares.items()}}
    name = "positive_rate" if task is Task.BINARY else "mean_target"
    return {name: round(float(labels.mean()), 6)}


def summary(part: pd.DataFrame, time_column: str | None, task: Task) -> dict[str, Any]:
    """Rows and labels of a part (``label_summary``), and the time it spans when rows have a
    time."""
    facts: dict[str, Any] = {"rows": len(part), **label_summary(part[columns.LABEL], task)}
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
    summaries = {
        name: summary(part, params.data.time_column, params.task) for name, part in parts.items()
    }
    for name, part in parts.items():
        write_parquet(part, part_path(name))
    write_json(SPLIT_JSON, summaries)
    return summaries
