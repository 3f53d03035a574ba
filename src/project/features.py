"""The features: the module a team edits (with ``features:`` in ``params.yaml``).

``build`` turns the validated raw tables into one model frame: lookups joined onto the main
table, derived columns, then the label (``mlops.data.target``). Everything it may use is known
at prediction time; a column that is only known afterwards (it leaks the answer) must never be
listed as a feature. The platform owns the form every feature takes (``mlops.columns``).
"""

from __future__ import annotations

import pandas as pd

from mlops.config import FeatureParams, Params
from mlops.data.target import add_label


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


def build(tables: dict[str, pd.DataFrame], params: Params) -> pd.DataFrame:
    """The model frame: every raw, joined and derived column, and the label.

    Columns beyond today's feature lists stay, so a model trained with other lists (the one in
    production, say) can still be scored on the same rows.
    """
    frame = join_lookups(tables[params.data.table], tables, params.features)
    return add_label(add_datetime_parts(frame, params.features), params).reset_index(drop=True)
