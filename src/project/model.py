"""The model definition: the module data scientists edit (with ``train:`` in ``params.yaml``).

``build_model`` returns an unfitted scikit-learn ``Pipeline`` (preprocessing + estimator) for the
estimator that ``params.yaml`` names and its ``task``: gradient boosting for every task, and a
linear baseline (logistic regression for classes, ridge for numbers). Add an estimator here and
in ``TrainParams.estimator``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from mlops.config import FeatureParams, TrainParams
from mlops.errors import MlopsError
from mlops.task import Task


def _gradient_boosting(
    features: FeatureParams, task: Task, seed: int, hyper: dict[str, Any]
) -> Pipeline:
    # Native categorical splits: no one-hot explosion, missing values handled by the trees.
    encode = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                ),
                features.categorical,
            ),
            ("numeric", "passthrough", features.numeric),
        ],
        verbose_feature_names_out=False,
    )
    kind = HistGradientBoostingClassifier if task.classifies else HistGradientBoostingRegressor
    estimator = kind(
        categorical_features=list(range(len(features.categorical))),
        early_stopping=False,
        random_state=seed,
        **hyper,
    )
    return Pipeline([("preprocess", encode), ("estimator", estimator)])


def _linear_inputs(features: FeatureParams) -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), features.categorical),
            (
                "numeric",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                features.numeric,
            ),
        ],
    )


def _logistic_regression(
    features: FeatureParams, task: Task, seed: int, hyper: dict[str, Any]
) -> Pipeline:
    estimator = LogisticRegression(random_state=seed, **hyper)
    return Pipeline([("preprocess", _linear_inputs(features)), ("estimator", estimator)])


def _ridge(features: FeatureParams, task: Task, seed: int, hyper: dict[str, Any]) -> Pipeline:
    estimator = Ridge(random_state=seed, **hyper)
    return Pipeline([("preprocess", _linear_inputs(features)), ("estimator", estimator)])


# Each estimator and the tasks it does.
_BUILDERS = {
    "hist_gradient_boosting": (_gradient_boosting, set(Task)),
    "logistic_regression": (_logistic_regression, {Task.BINARY, Task.MULTICLASS}),
    "ridge": (_ridge, {Task.REGRESSION}),
}


class EstimatorTaskError(MlopsError):
    """``train.estimator`` cannot do the project's ``task``."""


def build_model(
    params: TrainParams,
    features: FeatureParams,
    hyperparameters: dict[str, Any] | None = None,
    task: Task = Task.BINARY,
) -> Pipeline:
    """An unfitted pipeline; ``hyperparameters`` override those in ``params.yaml``."""
    builder, tasks = _BUILDERS[params.estimator]
    if task not in tasks:
        able = sorted(name for name, (_, can) in _BUILDERS.items() if task in can)
        raise EstimatorTaskError(
            f"train.estimator {params.estimator} cannot do a {task} task: use one of {able}"
        )
    hyper = {**params.hyperparameters, **(hyperparameters or {})}
    return builder(features, task, params.seed, hyper)
