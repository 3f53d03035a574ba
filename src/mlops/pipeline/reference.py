"""Reference profile of the training data, saved beside the model for drift monitoring.

Monitoring compares live inputs with this profile, so it never has to reload training data:
each input column and the model's score as a ``Distribution`` (distinct values and counts).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops.distribution import CATEGORICAL, NUMERIC, Distribution


def build(inputs: pd.DataFrame, categorical: list[str], scores: np.ndarray) -> dict[str, Any]:
    """Profile every input column and the model's score on the same rows."""
    return {
        "rows": len(inputs),
        "features": {
            column: Distribution.of(
                inputs[column], CATEGORICAL if column in categorical else NUMERIC
            ).to_json()
            for column in inputs.columns
        },
        "score": Distribution.of(pd.Series(scores), NUMERIC).to_json(),
    }


def distributions(profile: dict[str, Any]) -> dict[str, Distribution]:
    """The features' distributions of a saved profile, by column name."""
    return {name: Distribution.from_json(doc) for name, doc in profile["features"].items()}
