"""Optional hyperparameter search: sampled candidates, time-series CV, a wall-clock budget."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import ParameterSampler, TimeSeriesSplit, cross_val_score

from mlops.config import Params
from mlops.progress import bar
from mlops.task import METRICS
from project.model import build_model


def search(
    inputs: pd.DataFrame, labels: pd.Series, project: Params
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Best hyperparameters by the gate's primary metric, averaged over time-ordered folds,
    and every trial.

    ``inputs`` must be in time order: each fold validates on rows later than it trains on.
    Candidates are tried until ``n_candidates`` or ``time_budget_s`` runs out, whichever is first.
    """
    params, metric = project.train, project.gate.primary
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
                build_model(params, project.features, candidate, task=project.task),
                inputs,
                labels,
                cv=folds,
                scoring=METRICS[project.task][metric].scorer,
            )
            if not METRICS[project.task][metric].higher_is_better:
                scores = -scores  # scikit-learn's scorers negate a loss; the trial keeps it as is
            trials.append(
                {
                    "params": candidate,
                    metric: float(np.mean(scores)),
                    f"{metric}_std": float(np.std(scores)),
                }
            )
            progress.advance(task)
    if not trials:
        raise RuntimeError("the search budget ended before the first candidate finished")
    sign = 1 if METRICS[project.task][metric].higher_is_better else -1
    best = max(trials, key=lambda trial: sign * trial[metric])
    return dict(best["params"]), trials
