"""Shared by the serving tests: small trained models, and ``mlops serve`` as a real process
(``Server``, ``serving``: the platform's own, from ``mlops.serving.serving_process``)."""

from __future__ import annotations

import json
import shutil
import sys
from contextlib import chdir
from pathlib import Path
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from mlops.config import Params
from mlops.data import featurize, validate
from mlops.pipeline import train
from mlops.serving.serving_process import ServiceProcess as Server
from mlops.serving.serving_process import serving
from tests.conftest import FLIGHTS

__all__ = ["MLOPS", "Server", "holdout_records", "serving", "train_project"]
MLOPS = str(Path(sys.executable).parent / "mlops")


def train_project(folder: Path, sample_data: Path, params: Params) -> Path:
    """The fixture project with the sample data, its holdout and a trained ``model/``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("params.yaml", "schema.yaml"):
        shutil.copy(FLIGHTS / name, folder / name)
    shutil.copytree(sample_data, folder / "data")
    # One OpenMP thread: on a busy two-core machine a second one makes training many times slower.
    with chdir(folder), threadpool_limits(1):
        validate.run(params, folder / "schema.yaml")
        featurize.run(params)
        train.run(params)
    return folder


def holdout_records(project: Path, params: Params, rows: int) -> list[dict[str, Any]]:
    """Holdout rows as a client would send them (JSON: missing values are null)."""
    frame = pd.read_parquet(project / featurize.part_path("holdout"))[params.features.names]
    return json.loads(frame.head(rows).to_json(orient="records"))
