"""Optional hyperparameter search: sampled candidates, time-series CV, a wall-clock budget."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import ParameterSampler, TimeSeriesSplit, cross_val_score

from mlops.config import FeatureParams, TrainParams
from mlops.progress import bar
from project.model import build_model


def search(
    inputs: pd.DataFrame, labels: pd.Series, params: TrainParams, features: FeatureParams
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Best hyperparameters by mean ROC AUC over time-ordered folds, and every trial.

    ``inputs`` must be in time order: each fold validates on rows later than it trains on.
    Candidates are tried until ``n_candidates`` or ``time_budget_s`` runs out, whichever is first.
    """
    settings = params.search
    candidates = list(
        ParameterSampler(settings.space, settings.n_candidates, random_state=params.seed)
    )
    folds = TimeSeriesSplit(n_splits=settings.cv_splits)
    trials: list[dict[str, Any]] = []
    deadline = time.monotonic() + settings.time_budget_s
    with bar() as progress:
        task = progress.add_task("Hyperparameter search", total=len(candidates))
        for candidate in candidates:
            if time.monotonic() > deadline:
                break
            scores = cross_val_score(
                build_model(params, features, candidate),
                inputs,
                labels,
                cv=folds,
                scoring="roc_auc",
            )
            trials.append(
                {
                    "params": candidate,
                    "roc_auc": float(np.mean(scores)),
                    "roc_auc_std": float(np.std(scores)),
                }
            )
            progress.advance(task)
    if not trials:
        raise RuntimeError("the search budget ended before the first candidate finished")
    best = max(trials, key=lambda trial: trial["roc_auc"])
    return dict(best["params"]), trials
