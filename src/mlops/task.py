"""What a project predicts (``task:`` in params.yaml) and what follows from it everywhere: the
form of a prediction, the metrics that judge a model, which way each of them is better, and
the one the gate decides on unless params.yaml names another.

- ``binary``: the probability of the positive class (a 0/1 label) and the label at the
  model's threshold;
- ``multiclass``: a probability per class (the target's values, as text) and the likeliest;
- ``regression``: a number (the target's own unit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy where predictions are made: commands that only read tasks skip it
    import numpy as np
    import pandas as pd


class Task(StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"

    @property
    def classifies(self) -> bool:
        return self is not Task.REGRESSION


@dataclass(frozen=True)
class Metric:
    """A holdout metric: which way is better, and scikit-learn's scorer for the same number
    (permutation importance, hyperparameter search)."""

    higher_is_better: bool
    scorer: str


METRICS: dict[Task, dict[str, Metric]] = {
    Task.BINARY: {
        "roc_auc": Metric(True, "roc_auc"),
        "pr_auc": Metric(True, "average_precision"),
        "f1": Metric(True, "f1"),
        "log_loss": Metric(False, "neg_log_loss"),
        "brier": Metric(False, "neg_brier_score"),
    },
    Task.MULTICLASS: {
        "macro_f1": Metric(True, "f1_macro"),
        "weighted_f1": Metric(True, "f1_weighted"),
        "accuracy": Metric(True, "accuracy"),
        "log_loss": Metric(False, "neg_log_loss"),
        "roc_auc_ovr": Metric(True, "roc_auc_ovr"),
    },
    Task.REGRESSION: {
        "r2": Metric(True, "r2"),
        "mae": Metric(False, "neg_mean_absolute_error"),
        "rmse": Metric(False, "neg_root_mean_squared_error"),
    },
}

# Unitless, so the gate's bounds (params.yaml gate.min_lower_bound...) mean the same on any data.
PRIMARY = {Task.BINARY: "roc_auc", Task.MULTICLASS: "macro_f1", Task.REGRESSION: "r2"}


# A multiclass model's one-vs-rest ROC AUC of each class, as its metrics record names it (flat,
# as DVC compares metrics).
PER_CLASS_AUC = "roc_auc[{}]"


def per_class_auc(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The per-class entries of a metrics record (or a diff of one), by class."""
    prefix, suffix = PER_CLASS_AUC.split("{}")
    return {
        key[len(prefix) : -len(suffix)]: value
        for key, value in metrics.items()
        if key.startswith(prefix) and key.endswith(suffix)
    }


def of_metrics(metrics: Mapping[str, Any]) -> Task | None:
    """The task whose metrics a record (metrics.json, a window's live metrics) holds, if any."""
    return next((task for task in Task if set(METRICS[task]) <= metrics.keys()), None)


def lower_is_better(metric: str) -> bool:
    """Whether a smaller ``metric`` is better (a name means the same in every task)."""
    return any(
        not metrics[metric].higher_is_better for metrics in METRICS.values() if metric in metrics
    )


def gain(metric: str, candidate: float, champion: float) -> float:
    """How much better the candidate is; positive is better whatever the metric's direction."""
    return champion - candidate if lower_is_better(metric) else candidate - champion


def predict(task: Task, pipeline: Any, inputs: pd.DataFrame | np.ndarray) -> np.ndarray:
    """The model's predictions in the task's form: the positive class's probability (rows),
    every class's probability (rows x classes, in ``classes`` order), or the value (rows)."""
    import numpy as np

    if task is Task.BINARY:
        return np.asarray(pipeline.predict_proba(inputs)[:, 1], dtype=float)
    if task is Task.MULTICLASS:
        return np.asarray(pipeline.predict_proba(inputs), dtype=float)
    return np.asarray(pipeline.predict(inputs), dtype=float)


@dataclass(frozen=True)
class Predictions:
    """A model's predictions of some rows (``predict``'s form) and what reading them needs."""

    task: Task
    values: np.ndarray
    threshold: float | None = None  # binary: the probability from which a row is positive
    classes: tuple[str, ...] = ()  # multiclass: the probability columns' classes

    def decisions(self) -> np.ndarray:
        """What the model says each row is: 0/1 at the threshold, the likeliest class (text),
        or the value."""
        import numpy as np

        if self.task is Task.BINARY:
            return (self.values >= self.threshold).astype(int)
        if self.task is Task.MULTICLASS:
            return np.asarray(self.classes, dtype=object)[np.argmax(self.values, axis=1)]
        return self.values

    def rows(self, index: np.ndarray) -> Predictions:
        """The predictions of some of the rows (a slice, a resample's rows)."""
        return replace(self, values=self.values[index])

    @cached_property
    def outputs(self) -> list[dict[str, Any]]:
        """Each row's prediction as the service answers it and the collector logs it (made
        once: a request's answer and its log rows share it): a binary model's ``probability``
        and ``label`` (0/1), a multiclass model's ``probabilities`` (class: probability) and
        ``label`` (the likeliest class), a regression's ``value``."""
        values = self.values.tolist()
        if self.task is Task.REGRESSION:
            return [{"value": value} for value in values]
        labels = self.decisions().tolist()
        if self.task is Task.BINARY:
            return [
                {"probability": p, "label": label} for p, label in zip(values, labels, strict=True)
            ]
        return [
            {"probabilities": dict(zip(self.classes, row, strict=True)), "label": label}
            for row, label in zip(values, labels, strict=True)
        ]


def classes(pipeline: Any) -> list[str]:
    """A fitted classifier's classes as text, in the order of its probability columns."""
    return [str(value) for value in pipeline.classes_]


def from_outputs(task: Task, rows: list[dict[str, Any]], classes: tuple[str, ...]) -> np.ndarray:
    """``Predictions.outputs``' rows back as ``predict``'s array (a log's rows, say), for the
    metrics."""
    import numpy as np

    if task is Task.REGRESSION:
        return np.asarray([row["value"] for row in rows], dtype=float)
    if task is Task.BINARY:
        return np.asarray([row["probability"] for row in rows], dtype=float)
    return np.asarray(
        [[row["probabilities"][name] for name in classes] for row in rows], dtype=float
    )
