"""Plot data for ``dvc plots`` (JSON/CSV) and PNG figures for people without DVC, each task
its own: ROC, precision-recall and calibration for a binary model; the confusion matrix and each
class's ROC for a multiclass one; predicted against actual and the residuals for a regression."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import CalibrationDisplay, calibration_curve
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    PredictionErrorDisplay,
    RocCurveDisplay,
    precision_recall_curve,
    roc_curve,
)

from mlops.task import Predictions, Task

PNG_METADATA = {"Software": None}  # no version stamp: same figure, same bytes


def _thin(count: int, points: int) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, min(points, count)).round().astype(int))


def _binary_curves(
    labels: np.ndarray, scores: np.ndarray, points: int, bins: int
) -> dict[str, list[dict]]:
    """ROC, precision-recall and calibration points, thinned; no thresholds (they hold Infinity)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    precision, recall, _ = precision_recall_curve(labels, scores)
    observed, predicted = calibration_curve(labels, scores, n_bins=bins, strategy="quantile")
    keep_roc, keep_pr = _thin(len(fpr), points), _thin(len(recall), points)
    return {
        "roc": [{"fpr": round(float(fpr[i]), 6), "tpr": round(float(tpr[i]), 6)} for i in keep_roc],
        "precision_recall": [
            {"recall": round(float(recall[i]), 6), "precision": round(float(precision[i]), 6)}
            for i in keep_pr
        ],
        "calibration": [
            {"predicted": round(float(p), 6), "observed": round(float(o), 6)}
            for p, o in zip(predicted, observed, strict=True)
        ],
    }


def _regression_curves(labels: np.ndarray, values: np.ndarray, points: int) -> dict[str, list]:
    """Predicted against actual, and the residual against the prediction, for an even sample
    of rows in order of the prediction."""
    keep = np.argsort(values, kind="stable")[_thin(len(values), points)]
    return {
        "predicted_vs_actual": [
            {"actual": round(float(labels[i]), 6), "predicted": round(float(values[i]), 6)}
            for i in keep
        ],
        "residuals": [
            {
                "predicted": round(float(values[i]), 6),
                "residual": round(float(labels[i] - values[i]), 6),
            }
            for i in keep
        ],
    }


def curves(
    labels: np.ndarray, predicted: Predictions, points: int, bins: int
) -> dict[str, list[dict]]:
    """The task's plot data for ``dvc plots`` (a multiclass model's is the confusion table)."""
    if predicted.task is Task.BINARY:
        return _binary_curves(labels, predicted.values, points, bins)
    if predicted.task is Task.REGRESSION:
        return _regression_curves(labels, predicted.values, points)
    return {}


def evaluation_png(path: Path, labels: np.ndarray, predicted: Predictions, bins: int) -> None:
    """The task's figure, drawn by scikit-learn's displays from every holdout prediction."""
    draw = {Task.BINARY: _binary_png, Task.MULTICLASS: _multiclass_png}.get(
        predicted.task, _regression_png
    )
    figure = draw(labels, predicted, bins)
    figure.tight_layout()
    figure.savefig(path, dpi=90, metadata=PNG_METADATA)
    plt.close(figure)


def _binary_png(labels: np.ndarray, predicted: Predictions, bins: int) -> plt.Figure:
    """ROC, precision-recall, calibration and confusion matrix (the legends carry AUC and AP)."""
    scores, threshold = predicted.values, float(predicted.threshold or 0.5)
    figure, axes = plt.subplots(2, 2, figsize=(10, 9))
    (roc, pr), (calibration, confusion) = axes
    RocCurveDisplay.from_predictions(labels, scores, ax=roc, plot_chance_level=True)
    roc.set(title="ROC")
    PrecisionRecallDisplay.from_predictions(labels, scores, ax=pr, plot_chance_level=True)
    pr.set(title="Precision-recall")
    CalibrationDisplay.from_predictions(
        labels, scores, n_bins=bins, strategy="quantile", ax=calibration
    )
    calibration.set(title="Calibration")
    ConfusionMatrixDisplay.from_predictions(
        labels, predicted.decisions(), labels=[0, 1], ax=confusion, colorbar=False, cmap="Blues"
    )
    confusion.set(title=f"Confusion at threshold {threshold:.3f}")
    return figure


def _multiclass_png(labels: np.ndarray, predicted: Predictions, bins: int) -> plt.Figure:
    """The confusion matrix, and each class's ROC against the rest."""
    figure, (roc, confusion) = plt.subplots(1, 2, figsize=(13, 6))
    for column, name in enumerate(predicted.classes):
        if 0 < (labels == name).sum() < len(labels):
            RocCurveDisplay.from_predictions(
                labels == name, predicted.values[:, column], ax=roc, name=name
            )
    roc.set(title="ROC, each class against the rest")
    ConfusionMatrixDisplay.from_predictions(
        labels,
        predicted.decisions(),
        labels=list(predicted.classes),
        ax=confusion,
        colorbar=False,
        cmap="Blues",
        xticks_rotation="vertical",
    )
    confusion.set(title="Confusion (the likeliest class)")
    return figure


def _regression_png(labels: np.ndarray, predicted: Predictions, bins: int) -> plt.Figure:
    """Predicted against actual, and the residuals against the prediction."""
    figure, (versus, residuals) = plt.subplots(1, 2, figsize=(12, 5.5))
    for axis, kind, title in (
        (versus, "actual_vs_predicted", "Actual against predicted"),
        (residuals, "residual_vs_predicted", "Residual against predicted"),
    ):
        PredictionErrorDisplay.from_predictions(
            labels, predicted.values, kind=kind, ax=axis, subsample=2000, random_state=0
        )
        axis.set(title=title)
    return figure


def importance_png(path: Path, importance: dict[str, dict[str, float]], metric: str) -> None:
    """Horizontal bars of permutation importance (the drop in ``metric``) with one standard
    deviation."""
    ordered = sorted(importance.items(), key=lambda item: item[1]["mean"])
    figure, axis = plt.subplots(figsize=(7, 0.3 * len(ordered) + 1.2))
    axis.barh(
        [name for name, _ in ordered],
        [value["mean"] for _, value in ordered],
        xerr=[value["std"] for _, value in ordered],
    )
    axis.set(title=f"Permutation importance (drop in holdout {metric})", xlabel=f"{metric} drop")
    figure.tight_layout()
    figure.savefig(path, dpi=90, metadata=PNG_METADATA)
    plt.close(figure)
