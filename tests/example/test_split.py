"""The split: no row later than the training window ever reaches training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.config import Params, SplitParams
from mlops.data import featurize, validate
from mlops.data.split import SplitError, split, time_split


def _shuffled_hours(count: int) -> pd.DataFrame:
    times = pd.date_range("2013-01-01", periods=count, freq="h", tz="UTC")
    return pd.DataFrame({"time": times, "value": np.arange(count)}).sample(frac=1, random_state=0)


def test_parts_follow_each_other_in_time_even_from_shuffled_rows() -> None:
    parts = time_split(
        _shuffled_hours(24 * 60), "time", SplitParams(holdout_days=10, validation_days=5)
    )
    assert parts["train"]["time"].max() < parts["validation"]["time"].min()
    assert parts["validation"]["time"].max() < parts["holdout"]["time"].min()
    assert sum(len(part) for part in parts.values()) == 24 * 60
    last = parts["holdout"]["time"].max()
    assert parts["holdout"]["time"].min() > last - pd.Timedelta(days=10)


def test_too_short_a_history_is_an_error() -> None:
    settings = SplitParams(holdout_days=7, validation_days=3)
    with pytest.raises(SplitError, match=r"leaves \['train'\] empty"):
        split(_shuffled_hours(24 * 10), settings, "time", "label")


def test_featurized_training_rows_all_precede_validation_and_holdout(
    workspace, params: Params
) -> None:
    validate.run(params, workspace / "schema.yaml")
    summary = featurize.run(params)
    time = params.data.time_column
    parts = {name: pd.read_parquet(featurize.part_path(name)) for name in summary}
    assert parts["train"][time].max() < parts["validation"][time].min()
    assert parts["validation"][time].max() < parts["holdout"][time].min()
    # The label comes from the target column, which must not be a model input.
    assert params.features.target.column not in params.features.names
    assert set(parts["train"].columns) >= {*params.features.names, "label"}
