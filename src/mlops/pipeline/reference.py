"""Reference profile of the training data, saved beside the model for drift monitoring.

Monitoring compares live inputs with this profile, so it never has to reload training data:
each input column and the model's output as a ``Distribution`` (distinct values and counts):
the positive class's probability, the predicted value, or the predicted class.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops.distribution import CATEGORICAL, NUMERIC, Distribution
from mlops.task import Predictions, Task


def output(predicted: Predictions) -> Distribution:
    """What the model says of the rows, as monitoring compares it: a number (probability or
    value) or, for a multiclass model, the likeliest class."""
    if predicted.task is Task.MULTICLASS:
        return Distribution.of(pd.Series(predicted.decisions()), CATEGORICAL)
    return Distribution.of(pd.Series(predicted.values), NUMERIC)


def build(inputs: pd.DataFrame, categorical: list[str], predicted: Predictions) -> dict[str, Any]:
    """Profile every input column and the model's output on the same rows."""
    return {
        "rows": len(inputs),
        "features": {
            column: Distribution.of(
                inputs[column], CATEGORICAL if column in categorical else NUMERIC
            ).to_json()
            for column in inputs.columns
        },
        "score": output(predicted).to_json(),
    }


def distributions(profile: dict[str, Any]) -> dict[str, Distribution]:
    """The features' distributions of a saved profile, by column name."""
    return {name: Distribution.from_json(doc) for name, doc in profile["features"].items()}
