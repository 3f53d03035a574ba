"""The label: what a model learns to predict from the observed target values.

A binary task turns them into 0/1 by the rule ``features.target`` sets (a threshold, a positive
class, or a column that holds 0/1 already); a multiclass task keeps each value as its class,
as text (``columns.category_text``: the class ``3`` is the same in a CSV and a request); a
regression predicts the numbers themselves. An error shows the values when the column does not
fit.
"""

from __future__ import annotations

import pandas as pd

from mlops.columns import LABEL, category_text, category_value
from mlops.config import Params, TargetParams
from mlops.errors import MlopsError
from mlops.task import Task

EXAMPLES = 5


class LabelError(MlopsError):
    """The target column cannot give the task's label (0/1 by the rule ``features.target``
    sets, or a number for a regression)."""


def _examples(values: pd.Series) -> list[str]:
    return [str(value) for value in values.drop_duplicates().head(EXAMPLES)]


def _is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def label(values: pd.Series, target: TargetParams, task: Task = Task.BINARY) -> pd.Series:
    """The label of observed target values: 0/1 (int8), the class (text) or the number."""
    if task is Task.MULTICLASS:
        return category_text(values).astype(object)
    if task is Task.REGRESSION:
        if not _is_number(values):
            raise LabelError(
                f"features.target: a regression predicts numbers, but column {target.column!r} "
                f"holds {_examples(values)}: set task: binary or multiclass"
            )
        return values.astype("float64")
    return _binary(values, target).astype("int8")


def _binary(values: pd.Series, target: TargetParams) -> pd.Series:
    name = f"features.target ({target.describe()})"
    if target.threshold is not None:
        if not _is_number(values):
            raise LabelError(
                f"{name}: column {target.column!r} holds text such as {_examples(values)}, not "
                "numbers: set features.target.positive to the value of the positive class"
            )
        return values > target.threshold
    if target.positive is not None:
        if isinstance(target.positive, bool) and not pd.api.types.is_bool_dtype(values):
            raise LabelError(
                f"{name}: YAML read positive as {target.positive} (unquoted yes/no/on/off are "
                f"booleans), but {target.column!r} holds {_examples(values)}: quote the value, "
                'e.g. positive: "Yes"'
            )
        positive = category_value(target.positive)
        matches = category_text(values) == positive
        if not matches.any():
            raise LabelError(
                f"{name}: no row of {target.column!r} equals {positive!r}; "
                f"its values include {_examples(values)}"
            )
        return matches
    text = category_text(values)
    outside = ~text.isin(["0", "1", "True", "False"])
    if outside.any():
        raise LabelError(
            f"{name}: without threshold or positive the column must hold 0/1 or true/false, "
            f"but {target.column!r} holds {_examples(values[outside])}: set "
            "features.target.threshold or features.target.positive"
        )
    return text.isin(["1", "True"])


def add_label(frame: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The label column; rows with no target value (never observed) are dropped."""
    target = params.features.target
    if target.column not in frame:
        raise LabelError(
            f"features.target.column {target.column!r} is not a column of the model "
            f"frame; columns: {sorted(frame.columns)}"
        )
    observed = frame[frame[target.column].notna()].copy()
    observed[LABEL] = label(observed[target.column], target, params.task)
    return observed
