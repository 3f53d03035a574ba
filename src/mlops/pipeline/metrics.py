"""Model quality numbers, shared by evaluation, the gate and live monitoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from mlops.columns import category_text
from mlops.errors import MlopsError
from mlops.task import Predictions, Task


def _binary(labels: np.ndarray, predicted: Predictions) -> dict[str, float]:
    scores = predicted.values
    both_classes = len(np.unique(labels)) == 2
    return {
        "positive_rate": float(labels.mean()) if len(labels) else float("nan"),
        "roc_auc": roc_auc_score(labels, scores) if both_classes else float("nan"),
        "pr_auc": average_precision_score(labels, scores) if both_classes else float("nan"),
        "f1": f1_score(labels, predicted.decisions(), zero_division=0),
        "log_loss": log_loss(labels, scores, labels=[0, 1]),
        "brier": brier_score_loss(labels, scores),
    }


def _multiclass(labels: np.ndarray, predicted: Predictions) -> dict[str, float]:
    classes, decided = list(predicted.classes), predicted.decisions()
    every_class = set(labels) == set(classes)  # one-vs-rest AUC needs each class seen
    return {
        "macro_f1": f1_score(labels, decided, average="macro", labels=classes, zero_division=0),
        "weighted_f1": f1_score(
            labels, decided, average="weighted", labels=classes, zero_division=0
        ),
        "accuracy": accuracy_score(labels, decided),
        "log_loss": log_loss(labels, predicted.values, labels=classes),
        "roc_auc_ovr": (
            roc_auc_score(labels, predicted.values, multi_class="ovr", labels=classes)
            if every_class
            else float("nan")
        ),
    }


def _regression(labels: np.ndarray, predicted: Predictions) -> dict[str, float]:
    values = predicted.values
    return {
        "mean_target": float(labels.mean()) if len(labels) else float("nan"),
        "r2": r2_score(labels, values) if len(labels) > 1 else float("nan"),
        "mae": mean_absolute_error(labels, values),
        "rmse": root_mean_squared_error(labels, values),
    }


_BY_TASK = {Task.BINARY: _binary, Task.MULTICLASS: _multiclass, Task.REGRESSION: _regression}


def score(labels: np.ndarray, predicted: Predictions) -> dict[str, float]:
    """The task's metrics (``task.METRICS``) and a summary of the labels (the positive rate,
    the mean target), rounded for stable diffs."""
    labels = np.asarray(labels)
    values = {"rows": len(labels), **_BY_TASK[predicted.task](labels, predicted)}
    return {
        name: value if name == "rows" else round(float(value), 6) for name, value in values.items()
    }


def per_class_roc_auc(labels: np.ndarray, predicted: Predictions) -> dict[str, float]:
    """A multiclass model's one-vs-rest ROC AUC of each class seen with and without it."""
    labels = np.asarray(labels)
    return {
        name: round(float(roc_auc_score(labels == name, predicted.values[:, column])), 6)
        for column, name in enumerate(predicted.classes)
        if 0 < (labels == name).sum() < len(labels)
    }


MISSING_SLICE = "(missing)"


class SliceColumnError(MlopsError):
    """A slice column named in ``evaluate.slices`` is not among the scored rows' columns."""


def by_slice(
    frame: pd.DataFrame,
    labels: np.ndarray,
    predicted: Predictions,
    columns: list[str],
    min_rows: int,
) -> dict[str, dict[str, dict[str, float]]]:
    """``score`` for every value of every slice column that has at least ``min_rows`` rows.

    Values are compared as the text the model sees categories as (``category_text``: a slice
    of ``7`` live is the slice of ``7.0`` in a float column), and missing values form their
    own slice, ``"(missing)"``:
    rows with an unknown category are a group a model can fail, not something to drop.
    """
    absent = [column for column in columns if column not in frame]
    if absent:
        raise SliceColumnError(
            f"slice columns {absent} (evaluate.slices in params.yaml) are not in the scored "
            f"rows; available columns: {sorted(map(str, frame.columns))}"
        )
    slices: dict[str, dict[str, dict[str, float]]] = {}
    for column in columns:
        values = category_text(frame[column]).fillna(MISSING_SLICE).to_numpy()
        slices[column] = {}
        for value in sorted(set(values)):
            mask = values == value
            if mask.sum() >= min_rows:
                slices[column][value] = score(labels[mask], predicted.rows(mask))
    return slices
