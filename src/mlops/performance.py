"""Live performance: the served scores of labelled rows, per window and per slice."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops import labels, logs, metrics
from mlops.features import LABEL


def by_window(
    url: str,
    window: str,
    threshold: float,
    slices: list[str],
    min_slice_rows: int,
    versions: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """Metrics of each window that has labelled rows (scored by ``versions``), per slice too."""
    labelled, _ = labels.join(url)
    if versions is not None and not labelled.empty:
        labelled = labelled[labelled["model_version"].isin(versions)].copy()
    if labelled.empty:
        return []
    labelled[logs.WINDOW] = logs.window_of(logs.happened(labelled), window)
    return [
        _window(str(name), rows, threshold, slices, min_slice_rows)
        for name, rows in labelled.groupby(logs.WINDOW, sort=True)
    ]


def _window(
    name: str, rows: pd.DataFrame, threshold: float, slices: list[str], min_slice_rows: int
) -> dict[str, Any]:
    truth = rows[LABEL].to_numpy(dtype=int)
    scores = rows["predicted_probability"].to_numpy(dtype=float)
    return {
        "window": name,
        "metrics": metrics.score(truth, scores, threshold),
        "slices": metrics.by_slice(
            rows, truth, scores, threshold, [c for c in slices if c in rows], min_slice_rows
        ),
    }
