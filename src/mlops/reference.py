"""Reference profile of the training data, saved beside the model for drift monitoring.

Monitoring compares live inputs with this profile, so it never has to reload training data:
quantiles and histograms for numeric features, frequencies for categories, counts for both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

QUANTILES = np.linspace(0, 1, 101)
HISTOGRAM_BINS = 20
MAX_DISCRETE_VALUES = 60


def _numeric(values: pd.Series) -> dict[str, Any]:
    present = values.dropna().to_numpy(dtype="float64")
    profile: dict[str, Any] = {
        "kind": "numeric",
        "count": len(values),
        "missing": int(values.isna().sum()),
    }
    if len(present) == 0:
        return profile
    counts, edges = np.histogram(present, bins=HISTOGRAM_BINS)
    profile |= {
        "mean": float(present.mean()),
        "std": float(present.std()),
        "quantiles": [float(value) for value in np.quantile(present, QUANTILES)],
        "histogram": {"edges": [float(edge) for edge in edges], "counts": [int(c) for c in counts]},
    }
    distinct = np.unique(present, return_counts=True)
    if len(distinct[0]) <= MAX_DISCRETE_VALUES:
        profile["values"] = {
            repr(float(value)): int(count) for value, count in zip(*distinct, strict=True)
        }
    return profile


def _categorical(values: pd.Series) -> dict[str, Any]:
    counts = values.dropna().astype(str).value_counts().sort_index()
    return {
        "kind": "categorical",
        "count": len(values),
        "missing": int(values.isna().sum()),
        "values": {str(key): int(count) for key, count in counts.items()},
    }


def build(inputs: pd.DataFrame, categorical: list[str], scores: np.ndarray) -> dict[str, Any]:
    """Profile every input column and the model's score on the same rows."""
    return {
        "rows": len(inputs),
        "features": {
            column: _categorical(inputs[column])
            if column in categorical
            else _numeric(inputs[column])
            for column in inputs.columns
        },
        "score": _numeric(pd.Series(scores)),
    }
