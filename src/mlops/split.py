"""Time-based split: the model is always judged on rows later than any it learned from."""

from __future__ import annotations

import pandas as pd

from mlops.config import SplitParams

PARTS = ("train", "validation", "holdout")


def time_split(
    frame: pd.DataFrame, time_column: str, params: SplitParams
) -> dict[str, pd.DataFrame]:
    """Train < validation < holdout in time; the holdout is the most recent ``holdout_days``."""
    ordered = frame.sort_values(time_column, kind="stable")
    end = ordered[time_column].max()
    holdout_start = end - pd.Timedelta(days=params.holdout_days)
    validation_start = holdout_start - pd.Timedelta(days=params.validation_days)
    times = ordered[time_column]
    parts = {
        "train": ordered[times <= validation_start],
        "validation": ordered[(times > validation_start) & (times <= holdout_start)],
        "holdout": ordered[times > holdout_start],
    }
    empty = [name for name, part in parts.items() if part.empty]
    if empty:
        raise ValueError(
            f"the split leaves {empty} empty: the data spans too little time for "
            f"holdout_days={params.holdout_days}, validation_days={params.validation_days}"
        )
    return {name: part.reset_index(drop=True) for name, part in parts.items()}
