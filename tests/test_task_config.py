"""``task:`` in params.yaml: what each task accepts, and the error a wrong knob gets at load."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from mlops.config import FeatureParams, Params, TargetParams, TrainParams
from mlops.data.target import LabelError, label
from mlops.task import PRIMARY, Task
from project.model import EstimatorTaskError, build_model


def _params(**changes: Any) -> Params:
    document: dict[str, Any] = {
        "data": {"table": "shops"},
        "features": {"target": {"column": "sales"}, "numeric": ["price"]},
        "split": {"method": "random"},
        "train": {"estimator": "hist_gradient_boosting"},
        **changes,
    }
    return Params.model_validate(document)


@pytest.mark.parametrize("task", list(Task))
def test_the_gate_decides_on_the_tasks_own_metric_unless_one_is_named(task: Task) -> None:
    assert _params(task=task).gate.primary == PRIMARY[task]
    assert _params(
        task=task, gate={"primary": "log_loss"} if task.classifies else {"primary": "mae"}
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"task": "regression", "gate": {"floors": {"roc_auc": 0.6}}},
            "not metrics of a regression",
        ),
        ({"task": "multiclass", "gate": {"primary": "r2"}}, "not metrics of a multiclass"),
        ({"task": "regression", "gate": {"floors": {"rmse": 3.0}}}, "a floor is for a metric"),
        ({"task": "binary", "gate": {"ceilings": {"roc_auc": 0.99}}}, "a ceiling for one"),
        (
            {"task": "regression", "features": {"target": {"column": "sales", "threshold": 3}}},
            "threshold and positive make a 0/1 label",
        ),
        ({"task": "ordinal"}, "task"),
    ],
)
def test_a_knob_the_task_cannot_use_fails_at_load(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        _params(**changes)


def test_each_estimator_says_which_tasks_it_does() -> None:
    features = FeatureParams(target=TargetParams(column="sales"), numeric=["price"])
    with pytest.raises(EstimatorTaskError, match="cannot do a regression task: use one of"):
        build_model(TrainParams(estimator="logistic_regression"), features, task=Task.REGRESSION)
    with pytest.raises(EstimatorTaskError, match="'hist_gradient_boosting', 'logistic_regression'"):
        build_model(TrainParams(estimator="ridge"), features, task=Task.MULTICLASS)


def test_each_task_labels_rows_its_way() -> None:
    target = TargetParams(column="sales")
    numbers = pd.Series([3, 7.5, 0])
    assert label(numbers, target, Task.REGRESSION).dtype == np.float64
    classes = label(pd.Series([3, 7, 3]), target, Task.MULTICLASS)
    assert classes.tolist() == ["3", "7", "3"]  # integer-coded classes as text, as categories
    with pytest.raises(LabelError, match="a regression predicts numbers, but column 'sales'"):
        label(pd.Series(["high", "low"]), target, Task.REGRESSION)
