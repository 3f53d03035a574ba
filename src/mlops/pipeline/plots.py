"""Plot data for ``dvc plots`` (JSON/CSV) and PNG figures for people without DVC."""

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
    RocCurveDisplay,
    precision_recall_curve,
    roc_curve,
)

PNG_METADATA = {"Software": None}  # no version stamp: same figure, same bytes


def _thin(count: int, points: int) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, min(points, count)).round().astype(int))


def curves(labels: np.ndarray, scores: np.ndarray, points: int, bins: int) -> dict[str, list[dict]]:
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


def evaluation_png(
    path: Path, labels: np.ndarray, scores: np.ndarray, threshold: float, bins: int
) -> None:
    """ROC, precision-recall, calibration and confusion matrix in one figure, drawn by
    scikit-learn's displays from every holdout score (the legends carry AUC and AP)."""
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
        labels,
        (scores >= threshold).astype(int),
        labels=[0, 1],
        ax=confusion,
        colorbar=False,
        cmap="Blues",
    )
    confusion.set(title=f"Confusion at threshold {threshold:.3f}")
    figure.tight_layout()
    figure.savefig(path, dpi=90, metadata=PNG_METADATA)
    plt.close(figure)


def importance_png(path: Path, importance: dict[str, dict[str, float]]) -> None:
    """Horizontal bars of permutation importance with one standard deviation."""
    ordered = sorted(importance.items(), key=lambda item: item[1]["mean"])
    figure, axis = plt.subplots(figsize=(7, 0.3 * len(ordered) + 1.2))
    axis.barh(
        [name for name, _ in ordered],
        [value["mean"] for _, value in ordered],
        xerr=[value["std"] for _, value in ordered],
    )
    axis.set(title="Permutation importance (drop in holdout ROC AUC)", xlabel="ROC AUC drop")
    figure.tight_layout()
    figure.savefig(path, dpi=90, metadata=PNG_METADATA)
    plt.close(figure)
