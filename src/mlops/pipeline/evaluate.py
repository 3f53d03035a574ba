"""Stage ``evaluate``: holdout metrics overall and per slice, plot data and figures."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.inspection import permutation_importance

from mlops import artifact, columns
from mlops.config import Params
from mlops.data.featurize import part_path
from mlops.paths import IMPORTANCE_JSON, METRICS_JSON, MODEL_DIR, PLOTS_DIR, SLICES_JSON
from mlops.pipeline import plots
from mlops.pipeline.metrics import by_slice, per_class_roc_auc, score
from mlops.tables import write_atomically, write_json
from mlops.task import METRICS, PER_CLASS_AUC, Task


def _importance(pipeline: Any, inputs: pd.DataFrame, labels: pd.Series, params: Params) -> dict:
    settings = params.evaluate.importance
    sample = inputs.sample(min(settings.sample_rows, len(inputs)), random_state=params.train.seed)
    result = permutation_importance(
        pipeline,
        sample,
        labels.loc[sample.index],
        scoring=METRICS[params.task][params.gate.primary].scorer,
        n_repeats=settings.n_repeats,
        random_state=params.train.seed,
    )
    return {
        name: {"mean": round(float(mean), 6), "std": round(float(std), 6)}
        for name, mean, std in zip(
            inputs.columns, result.importances_mean, result.importances_std, strict=True
        )
    }


def run(params: Params) -> dict[str, float]:
    """Score the model on the holdout; returns the overall metrics."""
    model = artifact.load(MODEL_DIR)
    holdout = pd.read_parquet(part_path("holdout"))
    inputs = model.inputs(holdout)
    labels = holdout[columns.LABEL].to_numpy()
    predicted = model.predictions(inputs)
    overall = score(labels, predicted)
    if model.threshold is not None:
        overall["threshold"] = round(model.threshold, 6)
    if model.task is Task.MULTICLASS:
        per_class = per_class_roc_auc(labels, predicted)
        overall.update({PER_CLASS_AUC.format(name): value for name, value in per_class.items()})
    slices = by_slice(
        holdout, labels, predicted, params.evaluate.slices, params.evaluate.min_slice_rows
    )
    curves = plots.curves(
        labels, predicted, params.evaluate.curve_points, params.evaluate.calibration_bins
    )
    importance = _importance(model.pipeline, inputs, holdout[columns.LABEL], params)

    write_json(METRICS_JSON, overall)
    write_json(SLICES_JSON, slices)
    write_json(IMPORTANCE_JSON, importance)
    PLOTS_DIR.mkdir(parents=True, exist_ok=True)
    for name, points in curves.items():
        write_json(PLOTS_DIR / f"{name}.json", points)
    if model.task.classifies:
        confusion = pd.DataFrame({"actual": labels, "predicted": predicted.decisions()})
        write_atomically(
            PLOTS_DIR / "confusion.csv", lambda tmp: confusion.to_csv(tmp, index=False)
        )
    plots.evaluation_png(
        PLOTS_DIR / "evaluation.png", labels, predicted, params.evaluate.calibration_bins
    )
    plots.importance_png(PLOTS_DIR / "importance.png", importance, params.gate.primary)
    return overall
