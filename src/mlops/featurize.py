"""Stage ``featurize``: clean tables -> model frame -> train / validation / holdout files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mlops import features
from mlops.config import Params
from mlops.schema import PRODUCTION_TABLE
from mlops.split import time_split
from mlops.tables import write_json, write_parquet
from mlops.validate import CLEAN_DIR

FEATURES_DIR = Path("build/features")
SPLIT_JSON = Path("reports/split.json")


def part_path(name: str) -> Path:
    return FEATURES_DIR / f"{name}.parquet"


def run(params: Params) -> dict[str, Any]:
    """Build the model frame and split it by time; returns the split summary."""
    tables = {path.stem: pd.read_parquet(path) for path in sorted(CLEAN_DIR.glob("*.parquet"))}
    production = tables.pop(PRODUCTION_TABLE, None)
    frame = features.build(tables, params.data, params.features)
    if production is not None:  # collected rows are features already: they join here
        frame = pd.concat([frame, production], ignore_index=True)
    parts = time_split(frame, params.data.time_column, params.split)
    time = params.data.time_column
    summary = {
        name: {
            "rows": len(part),
            "positive_rate": round(float(part[features.LABEL].mean()), 6),
            "start": part[time].min().isoformat(),
            "end": part[time].max().isoformat(),
        }
        for name, part in parts.items()
    }
    for name, part in parts.items():
        write_parquet(part, part_path(name))
    write_json(SPLIT_JSON, summary)
    return summary
