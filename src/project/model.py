"""The model definition: the module data scientists edit (with ``train:`` in ``params.yaml``).

``build_model`` returns an unfitted scikit-learn ``Pipeline`` (preprocessing + estimator) for the
estimator that ``params.yaml`` names. Add an estimator here and in ``TrainParams.estimator``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from mlops.config import FeatureParams, TrainParams


def _gradient_boosting(features: FeatureParams, seed: int, hyper: dict[str, Any]) -> Pipeline:
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
    estimator = HistGradientBoostingClassifier(
        categorical_features=list(range(len(features.categorical))),
        early_stopping=False,
        random_state=seed,
        **hyper,
    )
    return Pipeline([("preprocess", encode), ("estimator", estimator)])


def _logistic_regression(features: FeatureParams, seed: int, hyper: dict[str, Any]) -> Pipeline:
    encode = ColumnTransformer(
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
    return Pipeline(
        [("preprocess", encode), ("estimator", LogisticRegression(random_state=seed, **hyper))]
    )


_BUILDERS = {
    "hist_gradient_boosting": _gradient_boosting,
    "logistic_regression": _logistic_regression,
}


def build_model(
    params: TrainParams, features: FeatureParams, hyperparameters: dict[str, Any] | None = None
) -> Pipeline:
    """An unfitted pipeline; ``hyperparameters`` override those in ``params.yaml``."""
    hyper = {**params.hyperparameters, **(hyperparameters or {})}
    return _BUILDERS[params.estimator](features, params.seed, hyper)
