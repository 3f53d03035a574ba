"""The features: the module data scientists edit (with ``features:`` in ``params.yaml``).

``build`` turns the validated raw tables into one model frame: lookups joined onto the main
table, derived columns, and the 0/1 label (``features.target``: a threshold, a positive class,
or a column that holds 0/1 already). Everything it may use is known at prediction time;
a column that is only known afterwards (it leaks the answer) must never be listed as a feature.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from mlops.config import DataParams, FeatureParams, TargetParams
from mlops.errors import MlopsError

LABEL = "label"
EXAMPLES = 5


class LabelError(MlopsError):
    """The target column cannot give a 0/1 label with the rule ``features.target`` sets."""


def category_value(value: Any) -> str | None:
    """A category as text, the one form training, the service, batch scoring and monitoring
    share: ``7``, ``7.0`` and ``"7"`` are all ``"7"``; missing is ``None``."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def category_text(column: pd.Series) -> pd.Series:
    """``category_value`` of every value (an object column of text and ``None``)."""
    return pd.Series(
        [category_value(value) for value in column.astype(object)],
        index=column.index,
        name=column.name,
        dtype=object,
    )


def join_lookups(
    frame: pd.DataFrame, tables: dict[str, pd.DataFrame], params: FeatureParams
) -> pd.DataFrame:
    """Left-join each lookup table on its keys; a missing lookup row leaves missing values."""
    for table, lookup in params.lookups.items():
        right = tables[table].drop_duplicates(lookup.keys, keep="first")[
            [*lookup.keys, *lookup.columns]
        ]
        frame = frame.merge(right, on=lookup.keys, how="left", validate="many_to_one")
    return frame


def add_datetime_parts(frame: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    """Calendar parts (``hour``, ``day_of_week``, ``month``, ``day``) in the local time zone."""
    for name, (column, part) in params.datetime_parts.items():
        frame[name] = getattr(frame[column].dt.tz_convert(params.local_timezone).dt, part)
    return frame


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


def model_inputs(frame: pd.DataFrame, categorical: list[str], numeric: list[str]) -> pd.DataFrame:
    """The named feature columns with the dtypes models expect: categories as text (see
    ``category_value``), numbers as float64."""
    inputs = frame[[*categorical, *numeric]].copy()
    for name in categorical:
        inputs[name] = category_text(inputs[name])
    inputs[numeric] = inputs[numeric].astype("float64")
    return inputs


def prediction_inputs(frame: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    """The inputs of a model trained with the current ``params.yaml``."""
    return model_inputs(frame, params.categorical, params.numeric)


def build(tables: dict[str, pd.DataFrame], data: DataParams, params: FeatureParams) -> pd.DataFrame:
    """The model frame: every raw, joined and derived column, and the label.

    Columns beyond today's feature lists stay, so a model trained with other lists (the one in
    production, say) can still be scored on the same rows.
    """
    frame = join_lookups(tables[data.table], tables, params)
    return add_label(add_datetime_parts(frame, params), params).reset_index(drop=True)
