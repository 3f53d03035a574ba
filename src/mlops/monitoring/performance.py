"""Live performance: the served outputs of labelled rows, per window and per slice, judged by
the task's metrics (``pipeline.metrics``) as the holdout was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops.columns import LABEL
from mlops.monitoring import logs
from mlops.pipeline import metrics
from mlops.task import Predictions, Task

# The labels' form per task (``labels.latest_feedback``): 0/1, the class as text, the number.
_LABELS: dict[Task, type] = {Task.BINARY: int, Task.MULTICLASS: object, Task.REGRESSION: float}


@dataclass(frozen=True)
class Outputs:
    """What reading a model's logged outputs needs: its task, threshold and classes."""

    task: Task
    threshold: float | None = None  # binary
    classes: tuple[str, ...] = ()  # multiclass: the probability columns' order

    def predictions(self, rows: pd.DataFrame) -> Predictions:
        """The rows' served outputs (``logs.read``'s columns) in ``task.predict``'s form."""
        columns = (
            [logs.probability(name) for name in self.classes]
            if self.task is Task.MULTICLASS
            else logs.SCORE
        )
        values = rows[columns].to_numpy(dtype=float)  # rows x classes, or rows
        return Predictions(self.task, values, self.threshold, self.classes)

    def labels(self, rows: pd.DataFrame) -> np.ndarray:
        return rows[LABEL].to_numpy(dtype=_LABELS[self.task])


def by_window(
    labelled: pd.DataFrame, outputs: Outputs, slices: list[str], min_slice_rows: int
) -> list[dict[str, Any]]:
    """Metrics of each window that has labelled rows, overall and per slice."""
    return [
        _window(str(name), rows, outputs, slices, min_slice_rows)
        for name, rows in labelled.groupby(logs.WINDOW, sort=True)
    ]


def _window(
    name: str, rows: pd.DataFrame, outputs: Outputs, slices: list[str], min_slice_rows: int
) -> dict[str, Any]:
    truth = outputs.labels(rows)
    scored = outputs.predictions(rows)
    return {
        "window": name,
        "metrics": metrics.score(truth, scored),
        "slices": metrics.by_slice(
            rows, truth, scored, [c for c in slices if c in rows], min_slice_rows
        ),
    }
