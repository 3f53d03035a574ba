"""The label: observed target values turned into 0/1 by the rule ``features.target`` sets (a
threshold, a positive class, or a column that holds 0/1 already), with an error that shows
the values when the rule does not fit the column."""

from __future__ import annotations

import pandas as pd

from mlops.columns import LABEL, category_text, category_value
from mlops.config import FeatureParams, TargetParams
from mlops.errors import MlopsError

EXAMPLES = 5


class LabelError(MlopsError):
    """The target column cannot give a 0/1 label with the rule ``features.target`` sets."""


def _examples(values: pd.Series) -> list[str]:
    return [str(value) for value in values.drop_duplicates().head(EXAMPLES)]


def label(values: pd.Series, target: TargetParams) -> pd.Series:
    """The 0/1 label of observed target values, by the rule ``features.target`` sets."""
    name = f"features.target ({target.describe()})"
    if target.threshold is not None:
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
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


def add_label(frame: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    """The label column; rows with no target value (never observed) are dropped."""
    if params.target.column not in frame:
        raise LabelError(
            f"features.target.column {params.target.column!r} is not a column of the model "
            f"frame; columns: {sorted(frame.columns)}"
        )
    observed = frame[frame[params.target.column].notna()].copy()
    observed[LABEL] = label(observed[params.target.column], params.target).astype("int8")
    return observed
