"""The main job and the training stages: ``mlops pipeline``, ``train``, ``evaluate`` and
``metrics``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mlops import paths
from mlops.cli.app import app
from mlops.cli.common import ParamsOption, console, print_table
from mlops.config import PARAMS_FILE, load_params


@app.command("pipeline")
def pipeline_command(
    force: Annotated[bool, typer.Option(help="Re-run every stage (dvc repro --force).")] = False,
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """The main job: the data version in place, `dvc repro`, then the metrics table."""
    from mlops import dvc
    from mlops.data import datastore

    console.print(f"data: {datastore.ensure(load_params(params))}")
    dvc.stream("repro", *(["--force"] if force else []))
    metrics_command()


@app.command("train")
def train_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Fit the model named in params.yaml and save it with its reference profile."""
    from mlops.pipeline import train

    metadata = train.run(load_params(params))
    decided = (
        f", threshold {metadata['threshold']:.4f}"
        if "threshold" in metadata
        else f", classes {metadata['classes']}"
        if "classes" in metadata
        else ""
    )
    console.print(
        f"trained a {metadata['task']} {metadata['estimator']} on "
        f"{metadata['trained_on']['rows']} rows{decided}"
    )


@app.command("evaluate")
def evaluate_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Score the model on the holdout: metrics, slices, plots, permutation importance."""
    from mlops.pipeline import evaluate

    print_table("holdout metrics", evaluate.run(load_params(params)))


@app.command("metrics")
def metrics_command() -> None:
    """Print the current model's holdout metrics and profile."""

    print_table("holdout metrics", json.loads(paths.METRICS_JSON.read_text()))
    profile = json.loads(paths.PROFILE_JSON.read_text())
    print_table(
        "profile",
        {
            "model size (bytes)": profile["model_size_bytes"],
            "single row p50 / p99 (ms)": "{p50_ms} / {p99_ms}".format(**profile["single_row"]),
            "batch rows/s": profile["batch"]["rows_per_s"],
        },
    )
