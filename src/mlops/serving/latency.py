"""Stage ``profile``: what the model costs to keep and to call (size, single-row and batch time)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mlops import artifact
from mlops.config import Params, ProfileParams
from mlops.data.featurize import part_path
from mlops.paths import MODEL_DIR, PROFILE_JSON
from mlops.progress import track
from mlops.serving import fastpath, servable
from mlops.serving.servable import ServedModel
from mlops.tables import write_json

# Calls per row; the least is the row's cost (see single_row).
REPEATS = 5


def _milliseconds(seconds: list[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.median(values)), 4),
        "p99_ms": round(float(np.quantile(values, 0.99)), 4),
    }


def single_row(served: ServedModel, inputs: pd.DataFrame, calls: int) -> dict[str, Any]:
    """p50 and p99 over ``calls`` holdout rows of what one one-row call costs, on the path the
    service takes (its fast path when the model has one) and on one OpenMP thread, as the
    service runs them.

    Each row is scored ``REPEATS`` times in this thread's CPU time and its cost is the least of
    them: other processes on a busy machine delay a call, and the call after a switch runs on
    cold caches, but neither changes what the row costs. The spread over rows (deep paths,
    unseen categories) is what p99 reports, so a latency budget decides the same way on a quiet
    machine and a loaded one.
    """
    records = fastpath.client_records(inputs)
    seconds: list[float] = []
    with threadpool_limits(1):
        for row in track(range(calls), description="Single-row calls"):
            one = [records[row % len(records)]]
            costs = []
            for _ in range(REPEATS):
                started = time.thread_time()
                served.predict(one)
                costs.append(time.thread_time() - started)
            seconds.append(min(costs))
    return {**_milliseconds(seconds), "path": "fast path" if served.fast else "pipeline"}


def measure(
    folder: Path, served: ServedModel, inputs: pd.DataFrame, settings: ProfileParams
) -> dict[str, Any]:
    """Size on disk, single-row latency over holdout rows, and whole-frame batch latency."""
    batch: list[float] = []
    for _ in range(settings.batch_repeats):
        started = time.perf_counter()
        served.artifact.predictions(inputs)
        batch.append(time.perf_counter() - started)
    return {
        "model_size_bytes": (folder / artifact.MODEL_FILE).stat().st_size,
        "single_row": single_row(served, inputs, settings.single_row_calls),
        "batch": {
            **_milliseconds(batch),
            "rows": len(inputs),
            "rows_per_s": round(len(inputs) / float(np.median(batch))),
        },
    }


def run(params: Params) -> dict[str, Any]:
    """Measure the model in ``model/`` on holdout rows; returns the numbers written."""
    served = servable.load(servable.FolderSource(MODEL_DIR))
    inputs = served.artifact.inputs(pd.read_parquet(part_path("holdout")))
    result = measure(MODEL_DIR, served, inputs, params.profile)
    write_json(PROFILE_JSON, result)
    return result
