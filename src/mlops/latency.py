"""Stage ``profile``: what the model costs to keep and to call (size, single-row and batch time)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlops import artifact, features
from mlops.config import Params
from mlops.featurize import part_path
from mlops.progress import track
from mlops.tables import write_atomically
from mlops.train import MODEL_DIR

PROFILE_JSON = Path("reports/profile.json")


def _milliseconds(seconds: list[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.median(values)), 4),
        "p99_ms": round(float(np.quantile(values, 0.99)), 4),
    }


def run(params: Params) -> dict[str, object]:
    """Measure the model in ``model/`` on holdout rows; returns the numbers written."""
    model = artifact.load(MODEL_DIR)
    inputs = features.prediction_inputs(pd.read_parquet(part_path("holdout")), params.features)
    predict = model.pipeline.predict_proba
    single: list[float] = []
    for row in track(range(params.profile.single_row_calls), description="Single-row calls"):
        one = inputs.iloc[[row % len(inputs)]]
        started = time.perf_counter()
        predict(one)
        single.append(time.perf_counter() - started)
    batch: list[float] = []
    for _ in range(params.profile.batch_repeats):
        started = time.perf_counter()
        predict(inputs)
        batch.append(time.perf_counter() - started)
    result = {
        "model_size_bytes": (MODEL_DIR / artifact.MODEL_FILE).stat().st_size,
        "single_row": _milliseconds(single),
        "batch": {
            **_milliseconds(batch),
            "rows": len(inputs),
            "rows_per_s": round(len(inputs) / float(np.median(batch))),
        },
    }
    write_atomically(PROFILE_JSON, lambda tmp: tmp.write_text(json.dumps(result, indent=2) + "\n"))
    return result
