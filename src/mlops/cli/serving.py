"""Scoring: ``mlops serve``, ``batch-score`` and the stages that check the serving path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mlops import paths
from mlops.cli.app import app
from mlops.cli.common import LocalClusterOption, ParamsOption, SchedulerOption, console
from mlops.config import PARAMS_FILE, SCHEMA_FILE, load_params


@app.command("serving-check")
def serving_check_command(
    schema: Annotated[Path, typer.Option(help="The data contract.")] = SCHEMA_FILE,
) -> None:
    """Send holdout rows through the service's request model: scores must equal evaluate's."""
    from mlops.serving import serving_check

    result = serving_check.run(schema if schema.exists() else None)
    console.print(
        f"serving check: {result['rows']} holdout rows, largest difference "
        f"{result['largest_difference']:.3g} (fast path {'on' if result['fast_path'] else 'off'})"
    )


@app.command("profile")
def profile_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Measure model size and single-row / batch prediction latency."""
    from mlops.serving import latency

    console.print_json(json.dumps(latency.run(load_params(params))))


@app.command("serve")
def serve_command(
    model: Annotated[Path, typer.Option(help="Model folder to serve.")] = paths.MODEL_DIR,
    registered: Annotated[
        str | None, typer.Option(help="Serve this registered version (vX.Y.Z) instead.")
    ] = None,
    stage: Annotated[
        str | None, typer.Option(help="Serve the version holding this stage; reloads follow it.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Served name (default: folder name).")] = None,
    version: Annotated[
        str | None, typer.Option(envvar="MLOPS_MODEL_VERSION", help="Default: sha256[:12].")
    ] = None,
    sha256: Annotated[
        str | None,
        typer.Option(envvar="MLOPS_MODEL_SHA256", help="Refuse a model folder of another sha256."),
    ] = None,
    collect: Annotated[
        str | None,
        typer.Option(envvar="MLOPS_COLLECT_URL", help="Folder or fsspec URL for scored rows."),
    ] = None,
    sample_rate: Annotated[float, typer.Option(help="Share of requests collected.")] = 1.0,
    parity_data: Annotated[
        Path | None, typer.Option(help="Parquet rows the fast path must match on.")
    ] = None,
    schema: Annotated[Path, typer.Option(help="The data contract.")] = SCHEMA_FILE,
    max_rows: Annotated[int, typer.Option(help="Rows per request.")] = 1000,
    max_body_bytes: Annotated[int, typer.Option(help="Request body size.")] = 1 << 20,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Serve a model over HTTP (/predict, Open Inference Protocol v2, /metrics)."""
    import tempfile

    from mlops.serving import servable, service

    source: servable.ModelSource = servable.FolderSource(model, name, version)
    if registered or stage:
        from mlops.registry.source import RegistrySource

        downloads = Path(tempfile.mkdtemp(prefix="mlops-models-"))
        source = RegistrySource(registered, stage, downloads)
    settings = service.Settings(
        source=source,
        expected_sha256=sha256,
        parity_data=parity_data,
        schema_file=schema if schema.exists() else None,
        collector_url=collect,
        sample_rate=sample_rate,
        max_rows=max_rows,
        max_body_bytes=max_body_bytes,
    )
    service.serve(settings, host, port)


@app.command("batch-score")
def batch_score_command(
    source: Annotated[Path, typer.Argument(help="CSV or Parquet rows.", metavar="IN")],
    output: Annotated[Path, typer.Argument(help="Parquet output.", metavar="OUT")],
    model: Annotated[Path, typer.Option(help="Model folder.")] = paths.MODEL_DIR,
    scheduler: SchedulerOption = None,
    local_cluster: LocalClusterOption = 0,
    partition_rows: Annotated[
        int | None, typer.Option(help="Rows per Dask task (default: batch.PARTITION_ROWS).")
    ] = None,
) -> None:
    """Score a file: pandas here, or on a Dask cluster with --scheduler / --local-cluster."""
    from mlops.serving import batch

    rows = partition_rows or batch.PARTITION_ROWS
    result = batch.run(source, output, model, scheduler, local_cluster, rows)
    console.print_json(json.dumps(result))
