"""Stage ``train``: fit the pipeline, pick a binary model's decision threshold, save the
artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import precision_recall_curve

from mlops import artifact, columns
from mlops.config import SCHEMA_FILE, Params
from mlops.data import featurize
from mlops.data.featurize import part_path
from mlops.paths import MODEL_DIR
from mlops.pipeline import reference
from mlops.pipeline.search import search
from mlops.task import Task, classes, predict
from project.model import build_model


def max_f1_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score cut that maximises F1 on held-out rows."""
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def _inputs_and_labels(name: str, params: Params) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    frame = pd.read_parquet(part_path(name))
    return columns.prediction_inputs(frame, params.features), frame[columns.LABEL], frame


def input_types(params: Params, schema_file: Path) -> dict[str, dict[str, str]]:
    """The contract's type of each input and context column, so the service asks for exactly
    what training saw (an integer-coded category stays an integer in requests)."""
    from mlops.schema import column_contracts

    contracts = column_contracts(schema_file if schema_file.exists() else None)

    def declared(name: str, default: str) -> str:
        return str(contracts.get(name, {}).get("dtype", default))

    return {
        "inputs": {
            **{name: declared(name, "str") for name in params.features.categorical},
            **dict.fromkeys(params.features.numeric, "float64"),
        },
        "context": {name: declared(name, "str") for name in params.context},
    }


def _threshold(pipeline: Any, inputs: pd.DataFrame, labels: pd.Series, params: Params) -> float:
    if params.train.threshold != "max_f1":
        return float(params.train.threshold)
    return max_f1_threshold(labels.to_numpy(), predict(Task.BINARY, pipeline, inputs))


def run(params: Params, schema_file: Path = SCHEMA_FILE) -> dict[str, Any]:
    """Train on the train part; returns the metadata written beside the model."""
    train_x, train_y, train_frame = _inputs_and_labels("train", params)
    tuned: dict[str, Any] = {}
    trials: list[dict[str, Any]] = []
    if params.train.search.enabled:
        tuned, trials = search(train_x, train_y, params)
    pipeline = build_model(params.train, params.features, tuned, task=params.task)
    pipeline.fit(train_x, train_y)
    by_task: dict[str, Any] = {}
    if params.task is Task.BINARY:
        valid_x, valid_y, _ = _inputs_and_labels("validation", params)
        by_task["threshold"] = _threshold(pipeline, valid_x, valid_y, params)
    if params.task is Task.MULTICLASS:
        by_task["classes"] = classes(pipeline)
    types = input_types(params, schema_file)
    metadata = {
        "task": str(params.task),
        "estimator": params.train.estimator,
        "hyperparameters": {**params.train.hyperparameters, **tuned},
        **by_task,
        "features": {
            "categorical": params.features.categorical,
            "numeric": params.features.numeric,
        },
        "input_types": types["inputs"],
        "context": types["context"],
        "label": params.label_rule(),
        "trained_on": featurize.summary(train_frame, params.data.time_column, params.task),
        "library_versions": {"scikit-learn": sklearn.__version__},
        "search_trials": trials,
    }
    predicted = artifact.ModelArtifact(pipeline, metadata).predictions(train_x)
    profile = reference.build(train_x, params.features.categorical, predicted)
    artifact.save(MODEL_DIR, pipeline, metadata, profile)
    return metadata
