"""Train / validation / holdout: the model is judged on rows it never learned from.

``split.method`` in ``params.yaml`` says how: by time (the holdout is the most recent rows, so
no future leaks into training), at random (stratified by the label when it is a class), or by
group (every row of a customer, a store, a patient stays in one part).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops.config import SplitParams
from mlops.errors import MlopsError

PARTS = ("train", "validation", "holdout")
MISSING_GROUP = "(missing)"


class SplitError(MlopsError):
    """The data cannot be split as ``split:`` asks (too little time, too few rows or groups)."""


def time_split(
    frame: pd.DataFrame, time_column: str, params: SplitParams
) -> dict[str, pd.DataFrame]:
    """Train < validation < holdout in time; the holdout is the most recent ``holdout_days``."""
    holdout_days, validation_days = params.holdout_days or 0.0, params.validation_days or 0.0
    ordered = frame.sort_values(time_column, kind="stable")
    end = ordered[time_column].max()
    holdout_start = end - pd.Timedelta(days=holdout_days)
    validation_start = holdout_start - pd.Timedelta(days=validation_days)
    times = ordered[time_column]
    return {
        "train": ordered[times <= validation_start],
        "validation": ordered[(times > validation_start) & (times <= holdout_start)],
        "holdout": ordered[times > holdout_start],
    }


def _shares(params: SplitParams) -> tuple[float, float]:
    """The holdout's share of all rows, and the validation's share of what is left."""
    return params.holdout_share, params.validation_share / (1 - params.holdout_share)


def random_split(
    frame: pd.DataFrame, label: str | None, params: SplitParams
) -> dict[str, pd.DataFrame]:
    """Shares of rows drawn with the seed, each part with the classes' shares when ``label``
    names a class column (rows keep the data's order within a part)."""
    from sklearn.model_selection import train_test_split  # a time split never loads sklearn

    holdout_share, validation_share = _shares(params)
    try:
        rest, holdout = train_test_split(
            frame,
            test_size=holdout_share,
            stratify=frame[label] if label else None,
            random_state=params.seed,
        )
        train, validation = train_test_split(
            rest,
            test_size=validation_share,
            stratify=rest[label] if label else None,
            random_state=params.seed,
        )
    except ValueError as error:  # too few rows of a class to stratify
        raise SplitError(f"split.method random: {error}") from None
    parts = {"train": train, "validation": validation, "holdout": holdout}
    return {name: part.sort_index() for name, part in parts.items()}


def group_split(frame: pd.DataFrame, params: SplitParams) -> dict[str, pd.DataFrame]:
    """Shares of the groups drawn with the seed: no group is in two parts."""
    from sklearn.model_selection import GroupShuffleSplit

    column = params.group_column
    assert column is not None
    if column not in frame:
        raise SplitError(f"split.group_column {column!r} is not a column of the model frame")
    groups = frame[column].astype(object).where(frame[column].notna(), MISSING_GROUP).astype(str)
    holdout_share, validation_share = _shares(params)

    def cut(rows: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
        splitter = GroupShuffleSplit(n_splits=1, test_size=share, random_state=params.seed)
        kept, taken = next(splitter.split(rows, groups=groups.to_numpy()[rows]))
        return rows[kept], rows[taken]

    if groups.nunique() < 3:
        raise SplitError(f"split.method group: {column!r} has fewer than 3 groups")
    rest, holdout = cut(np.arange(len(frame)), holdout_share)
    train, validation = cut(rest, validation_share)
    parts = (train, validation, holdout)
    return {name: frame.iloc[np.sort(rows)] for name, rows in zip(PARTS, parts, strict=True)}


def split(
    frame: pd.DataFrame, params: SplitParams, time_column: str | None, label: str | None
) -> dict[str, pd.DataFrame]:
    """The three parts by ``params.method``; none may be empty. ``label``: the class column a
    random split keeps the shares of (None for a regression's numbers)."""
    if params.method == "time":
        assert time_column is not None  # Params checks this at load
        parts = time_split(frame, time_column, params)
    elif params.method == "random":
        parts = random_split(frame, label, params)
    else:
        parts = group_split(frame, params)
    empty = [name for name, part in parts.items() if part.empty]
    if empty:
        settings = (
            f"holdout_days={params.holdout_days}, validation_days={params.validation_days}"
            if params.method == "time"
            else f"holdout_share={params.holdout_share}, validation_share={params.validation_share}"
        )
        raise SplitError(
            f"the split leaves {empty} empty: {len(frame)} rows are too few for "
            f"split.method {params.method} with {settings}"
        )
    return {name: parts[name].reset_index(drop=True) for name in PARTS}
