"""The one form a feature takes everywhere: in training, the service, batch scoring and
monitoring. A category is text (``7``, ``7.0`` and ``"7"`` are all ``"7"``), a number is a
float64, and the label of every model frame is the column ``LABEL``."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from mlops.config import FeatureParams

LABEL = "label"


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
