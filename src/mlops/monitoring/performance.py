"""Live performance: the served scores of labelled rows, per window and per slice."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops.columns import LABEL
from mlops.monitoring import logs
from mlops.pipeline import metrics
from mlops.task import Predictions, Task


def by_window(
    labelled: pd.DataFrame, threshold: float, slices: list[str], min_slice_rows: int
) -> list[dict[str, Any]]:
    """Metrics of each window that has labelled rows, overall and per slice."""
    return [
        _window(str(name), rows, threshold, slices, min_slice_rows)
        for name, rows in labelled.groupby(logs.WINDOW, sort=True)
    ]


def _window(
    name: str, rows: pd.DataFrame, threshold: float, slices: list[str], min_slice_rows: int
) -> dict[str, Any]:
    truth = rows[LABEL].to_numpy(dtype=int)
    scored = Predictions(Task.BINARY, rows[logs.SCORE].to_numpy(dtype=float), threshold)
    return {
        "window": name,
        "metrics": metrics.score(truth, scored),
        "slices": metrics.by_slice(
            rows, truth, scored, [c for c in slices if c in rows], min_slice_rows
        ),
    }
