"""The features: the module data scientists edit (with ``features:`` in ``params.yaml``).

``build`` turns the validated raw tables into one model frame: lookups joined onto the main
table, derived columns, and the binary label. Everything it may use is known at prediction time;
a column that is only known afterwards (it leaks the answer) must never be listed as a feature.
"""

from __future__ import annotations

import pandas as pd

from mlops.config import DataParams, FeatureParams

LABEL = "label"


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


def add_label(frame: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    """``label = target > threshold``; rows with no target value (never observed) are dropped."""
    observed = frame[frame[params.target.column].notna()].copy()
    observed[LABEL] = (observed[params.target.column] > params.target.threshold).astype("int8")
    return observed


def model_inputs(frame: pd.DataFrame, categorical: list[str], numeric: list[str]) -> pd.DataFrame:
    """The named feature columns with the dtypes models expect (categories as text)."""
    inputs = frame[[*categorical, *numeric]].copy()
    inputs[categorical] = inputs[categorical].astype("object")
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
