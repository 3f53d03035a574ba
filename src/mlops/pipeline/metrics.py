"""Model quality numbers, shared by evaluation, the gate and live monitoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    roc_auc_score,
)

from mlops.columns import category_text
from mlops.errors import MlopsError


def score(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """ROC AUC, PR AUC, F1 at ``threshold``, log loss and Brier score, rounded for stable diffs."""
    labels = np.asarray(labels)
    both_classes = len(np.unique(labels)) == 2
    values = {
        "rows": len(labels),
        "positive_rate": float(labels.mean()) if len(labels) else float("nan"),
        "roc_auc": roc_auc_score(labels, scores) if both_classes else float("nan"),
        "pr_auc": average_precision_score(labels, scores) if both_classes else float("nan"),
        "f1": f1_score(labels, scores >= threshold, zero_division=0),
        "log_loss": log_loss(labels, scores, labels=[0, 1]),
        "brier": brier_score_loss(labels, scores),
    }
    return {
        name: value if name == "rows" else round(float(value), 6) for name, value in values.items()
    }


MISSING_SLICE = "(missing)"


class SliceColumnError(MlopsError):
    """A slice column named in ``evaluate.slices`` is not among the scored rows' columns."""


def by_slice(
    frame: pd.DataFrame,
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float,
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
                slices[column][value] = score(labels[mask], scores[mask], threshold)
    return slices
