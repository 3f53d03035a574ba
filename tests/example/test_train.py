"""Training pieces: the threshold rule, the optional search, the reference profile."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops import columns
from mlops.config import Params
from mlops.data import featurize, validate
from mlops.pipeline import reference
from mlops.pipeline.search import search
from mlops.pipeline.train import max_f1_threshold
from mlops.task import Predictions, Task


def test_max_f1_threshold_is_the_best_cut() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 500)
    scores = np.clip(labels * 0.3 + rng.uniform(0, 0.7, 500), 0, 1)
    chosen = max_f1_threshold(labels, scores)

    def f1(cut: float) -> float:
        predicted = scores >= cut
        true_positive = (predicted & (labels == 1)).sum()
        return 2 * true_positive / (predicted.sum() + labels.sum())

    assert f1(chosen) == pytest.approx(max(f1(cut) for cut in np.unique(scores)))


@pytest.fixture
def train_part(workspace, params: Params) -> tuple[pd.DataFrame, pd.Series]:
    validate.run(params, workspace / "schema.yaml")
    featurize.run(params)
    frame = pd.read_parquet(featurize.part_path("train"))
    return columns.prediction_inputs(frame, params.features), frame[columns.LABEL]


def test_search_tries_candidates_with_time_ordered_folds(train_part, params: Params) -> None:
    inputs, labels = train_part
    settings = params.train.model_copy(
        update={
            "search": params.train.search.model_copy(
                update={
                    "enabled": True,
                    "n_candidates": 2,
                    "cv_splits": 2,
                    "space": {"max_iter": [20, 40], "learning_rate": [0.1]},
                }
            )
        }
    )
    best, trials = search(inputs, labels, params.model_copy(update={"train": settings}))
    assert len(trials) == 2
    assert {trial["params"]["max_iter"] for trial in trials} == {20, 40}
    assert best == max(trials, key=lambda trial: trial["roc_auc"])["params"]


def test_search_stops_at_its_time_budget(train_part, params: Params) -> None:
    inputs, labels = train_part
    settings = params.train.model_copy(
        update={
            "search": params.train.search.model_copy(update={"enabled": True, "time_budget_s": -1})
        }
    )
    with pytest.raises(RuntimeError, match="budget ended before the first candidate"):
        search(inputs, labels, params.model_copy(update={"train": settings}))


def test_reference_profile_describes_every_input(train_part, params: Params) -> None:
    inputs, _ = train_part
    scores = Predictions(Task.BINARY, np.linspace(0, 1, len(inputs)), 0.5)
    profile = reference.build(inputs, params.features.categorical, scores)
    assert set(profile["features"]) == set(params.features.names)
    carrier = profile["features"]["carrier"]
    assert sum(carrier["values"].values()) + carrier["missing"] == len(inputs)
    gust = profile["features"]["wind_gust"]
    assert gust["missing"] == inputs["wind_gust"].isna().sum() > 0
    assert gust["values"][0] == inputs["wind_gust"].min()
    assert gust["exact"]
    assert sum(gust["counts"]) == inputs["wind_gust"].notna().sum()
    assert gust["std"] == pytest.approx(inputs["wind_gust"].std(ddof=0))
    assert sum(profile["features"]["dep_hour"]["counts"]) == len(inputs)
    assert profile["score"]["values"][-1] == 1.0
