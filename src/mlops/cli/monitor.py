"""``mlops monitor ...`` (drift, data quality, live performance) and ``label-join``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mlops import paths
from mlops.cli.app import app
from mlops.cli.common import (
    DATA_QUALITY_EXIT,
    DRIFT_EXIT,
    NO_DATA_EXIT,
    LocalClusterOption,
    ParamsOption,
    SchedulerOption,
    console,
)
from mlops.config import PARAMS_FILE, SCHEMA_FILE, load_params

monitor_app = typer.Typer(help="Drift, data quality and live performance.", no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")


@app.command("label-join")
def label_join_command(
    collected: Annotated[str, typer.Argument(help="Collector folder or fsspec URL.")],
    output: Annotated[Path, typer.Argument(help="Parquet file to write.")],
) -> None:
    """Join collected predictions with feedback into a labelled data set for retraining."""
    from mlops.monitoring import labels

    console.print_json(json.dumps(labels.run(collected, output)))


@monitor_app.command("drift")
def monitor_drift_command(
    collected: Annotated[str, typer.Argument(help="Collector folder or fsspec URL.")],
    model: Annotated[
        Path, typer.Option(help="Model folder (its reference profile).")
    ] = paths.MODEL_DIR,
    holdout_metrics: Annotated[
        Path, typer.Option(help="The model's holdout metrics, to compare live ones with.")
    ] = paths.METRICS_JSON,
    window: Annotated[
        str | None, typer.Option(help="Window: h, D, W or M (default: params monitor.window).")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Folder for drift.json, .md and .html.")
    ] = paths.MONITORING_DIR,
    alert: Annotated[
        bool, typer.Option(help="Post to the webhook in $MLOPS_ALERT_WEBHOOK on drift or bad data.")
    ] = False,
    scheduler: SchedulerOption = None,
    local_cluster: LocalClusterOption = 0,
    all_versions: Annotated[
        bool, typer.Option(help="Rows scored by any model, not only by this one.")
    ] = False,
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """Drift and data quality per window, live performance, and whether to retrain.

    Exit code: 0 no drift, 3 sustained drift (retrain), 4 data-quality failure, 5 no rows this
    model scored could be judged (is the collector running?), 1 error.
    """
    from mlops.gitops import ci
    from mlops.monitoring import monitor, monitor_report

    report = monitor.run(
        collected,
        model,
        load_params(params),
        SCHEMA_FILE if SCHEMA_FILE.exists() else None,
        holdout_metrics,
        window,
        scheduler,
        local_cluster,
        all_versions,
    )
    monitor_report.write(report, out)
    decision = report["decision"]
    ci.set_outputs(status=decision["status"])
    console.print(monitor_report.summary(report), highlight=False)
    if alert and decision["status"] != monitor.NO_DRIFT:
        from mlops.monitoring import alerts  # an HTTP client, loaded only to post

        alerts.post(monitor_report.alert_text(report))
    if decision["status"] == monitor.DRIFT:
        raise typer.Exit(DRIFT_EXIT)
    if decision["status"] == monitor.DATA_QUALITY:
        raise typer.Exit(DATA_QUALITY_EXIT)
    if decision["status"] == monitor.NO_DATA:
        raise typer.Exit(NO_DATA_EXIT)


@monitor_app.command("notify")
def monitor_notify_command(
    report_dir: Annotated[
        Path, typer.Argument(help="The --out folder of monitor drift.")
    ] = paths.MONITORING_DIR,
    run_url: Annotated[str, typer.Option(help="The workflow run, linked from the issue.")] = "",
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """On drift or bad data open or update one issue; on drift also dispatch retraining."""
    from mlops.gitops import ci, policies

    result = policies.notify(report_dir, load_params(params).gitops, run_url)
    ci.set_outputs(status=result["status"])
    console.print_json(json.dumps(result))
