"""``mlops smoke-test``: a deployed service answers health, metadata and one real prediction.

The row is the model's typical input (most common category, median number) from its reference
profile, so it passes the service's validation without any data files.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlops import http
from mlops.distribution import CATEGORICAL, Distribution
from mlops.errors import MlopsError
from mlops.serving import payload

TIMEOUT_S = 30


def typical_row(
    profile: dict[str, Any], input_types: dict[str, str] | None = None
) -> dict[str, Any]:
    """One input row: each feature's most common category (typed as requests send it, an
    integer for an integer-coded category) or median value."""
    row: dict[str, Any] = {}
    types = input_types or {}
    for name, document in profile["features"].items():
        column = Distribution.from_json(document)
        if not column.present:
            row[name] = None
        elif column.kind == CATEGORICAL:
            text = str(column.values[np.argmax(column.counts)])
            row[name] = payload.client_value(text, types.get(name, "str"))
        else:
            middle = np.searchsorted(np.cumsum(column.counts), column.present / 2)
            row[name] = float(column.values[middle])
    return row


def _request(url: str, token: str | None, body: dict[str, Any] | None = None) -> Any:
    return http.request_json(
        url, body, http.bearer(token), timeout=TIMEOUT_S, what=f"smoke test: {url}"
    )


def run(
    base_url: str,
    profile: dict[str, Any],
    token: str | None = None,
    input_types: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Health, then one prediction; returns what the service answered."""
    base = base_url.rstrip("/")
    if not _request(f"{base}/v2/health/ready", token).get("ready"):
        raise MlopsError(f"smoke test: {base} is not ready")
    answer = _request(f"{base}/predict", token, {"records": [typical_row(profile, input_types)]})
    [prediction] = answer["predictions"]
    _check(prediction)
    return {"url": base, "model_version": answer["model_version"], **prediction}


def _check(prediction: dict[str, Any]) -> None:
    """A prediction of any task that is a prediction: probabilities in [0, 1] (a multiclass
    model's summing to 1), or a finite value."""
    if "value" in prediction:
        if not np.isfinite(prediction["value"]):
            raise MlopsError(f"smoke test: the value {prediction['value']} is not finite")
        return
    probabilities = prediction.get("probabilities") or {"probability": prediction["probability"]}
    values = np.asarray(list(probabilities.values()), dtype=float)
    if not ((values >= 0).all() and (values <= 1).all()):
        raise MlopsError(f"smoke test: probabilities {probabilities} are not in [0, 1]")
    if "probabilities" in prediction and not np.isclose(values.sum(), 1.0):
        raise MlopsError(f"smoke test: the classes' probabilities sum to {values.sum()}, not 1")
