"""``mlops``: the one command line. DVC stages, nox sessions and workflows only call this."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mlops import batch, datastore, evaluate, featurize, labels, latency, servable, train, validate
from mlops.artifact import UntrustedModelError
from mlops.config import PARAMS_FILE, SCHEMA_FILE, load_params
from mlops.datastore import DataMismatchError
from mlops.dvc import DvcError
from mlops.schema import SchemaViolationError

app = typer.Typer(
    help="GitOps template for machine-learning operations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="The versioned raw data (data.dvc).", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()
errors = Console(stderr=True)

ParamsOption = Annotated[Path, typer.Option("--params", help="Pipeline parameters.")]
# Failures that are about the inputs, not bugs: a message, no traceback, exit code 1.
_EXPECTED = (
    SchemaViolationError,
    DataMismatchError,
    DvcError,
    UntrustedModelError,
    FileNotFoundError,
    ValueError,
)


def _reports_failures(command: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except _EXPECTED as error:
            errors.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


@data_app.command("pull")
@_reports_failures
def data_pull(params: ParamsOption = PARAMS_FILE) -> None:
    """Make data/ hold the version data.dvc records: as is, from the remote, or rebuilt."""
    how = datastore.ensure(load_params(params))
    console.print(f"data: {how}")


@data_app.command("add-month")
@_reports_failures
def data_add_month(
    month: Annotated[str, typer.Argument(help="YYYY-MM")], params: ParamsOption = PARAMS_FILE
) -> None:
    """Add one month from the configured source as a new data version (then commit data.dvc)."""
    digest = datastore.add_month(load_params(params), month)
    console.print(f"data.dvc now records {digest}")


@data_app.command("create")
@_reports_failures
def data_create(
    months: Annotated[list[str] | None, typer.Option("--month", help="YYYY-MM; repeat")] = None,
    every: Annotated[int, typer.Option(help="keep every n-th row of the main table")] = 1,
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """Write a new data version from the source (default: data.initial_months in params)."""
    config = load_params(params)
    digest = datastore.create(config, months or config.data.initial_months, every)
    console.print(f"data.dvc now records {digest}")


@app.command("validate")
@_reports_failures
def validate_command(
    params: ParamsOption = PARAMS_FILE,
    schema: Annotated[Path, typer.Option(help="The data contract.")] = SCHEMA_FILE,
) -> None:
    """Check raw data against the schema; write clean tables and the data-quality report."""
    report = validate.run(load_params(params), schema)
    for table, body in report["tables"].items():
        console.print(
            f"{table}: {body['rows_out']} rows valid, {body['duplicates_removed']} "
            f"duplicates removed, {len(body['outliers'])} columns with outliers"
        )


@app.command("featurize")
@_reports_failures
def featurize_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Build features and the label; split by time into train, validation and holdout."""
    for name, part in featurize.run(load_params(params)).items():
        console.print(f"{name}: {part['rows']} rows, {part['start']} .. {part['end']}")


@app.command("train")
@_reports_failures
def train_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Fit the model named in params.yaml and save it with its reference profile."""
    metadata = train.run(load_params(params))
    console.print(
        f"trained {metadata['estimator']} on {metadata['trained_on']['rows']} rows, "
        f"threshold {metadata['threshold']:.4f}"
    )


@app.command("evaluate")
@_reports_failures
def evaluate_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Score the model on the holdout: metrics, slices, plots, permutation importance."""
    _print_table("holdout metrics", evaluate.run(load_params(params)))


@app.command("profile")
@_reports_failures
def profile_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Measure model size and single-row / batch prediction latency."""
    result = latency.run(load_params(params))
    console.print_json(json.dumps(result))


@app.command("serve")
@_reports_failures
def serve_command(
    model: Annotated[Path, typer.Option(help="Model folder to serve.")] = Path("model"),
    name: Annotated[str | None, typer.Option(help="Served name (default: folder name).")] = None,
    version: Annotated[
        str | None, typer.Option(envvar="MLOPS_MODEL_VERSION", help="Default: sha256[:12].")
    ] = None,
    sha256: Annotated[
        str | None,
        typer.Option(envvar="MLOPS_MODEL_SHA256", help="Refuse a model file with another hash."),
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
    from mlops import service  # web stack only for this command

    settings = service.Settings(
        source=servable.FolderSource(model, name, version),
        expected_sha256=sha256,
        parity_data=parity_data,
        schema_file=schema if schema.exists() else None,
        collector_url=collect,
        sample_rate=sample_rate,
        max_rows=max_rows,
        max_body_bytes=max_body_bytes,
    )
    service.serve(settings, host, port)


@app.command("label-join")
@_reports_failures
def label_join_command(
    collected: Annotated[str, typer.Argument(help="Collector folder or fsspec URL.")],
    output: Annotated[Path, typer.Argument(help="Parquet file to write.")],
) -> None:
    """Join collected predictions with feedback into a labelled data set for retraining."""
    console.print_json(json.dumps(labels.run(collected, output)))


@app.command("batch-score")
@_reports_failures
def batch_score_command(
    source: Annotated[Path, typer.Argument(help="CSV or Parquet rows.", metavar="IN")],
    output: Annotated[Path, typer.Argument(help="Parquet output.", metavar="OUT")],
    model: Annotated[Path, typer.Option(help="Model folder.")] = Path("model"),
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address.")] = None,
    local_cluster: Annotated[int, typer.Option(help="Dask workers started here (0: no).")] = 0,
    partition_rows: Annotated[int, typer.Option(help="Rows per Dask task.")] = batch.PARTITION_ROWS,
) -> None:
    """Score a file: pandas here, or on a Dask cluster with --scheduler / --local-cluster."""
    result = batch.run(source, output, model, scheduler, local_cluster, partition_rows)
    console.print_json(json.dumps(result))


@app.command("metrics")
def metrics_command() -> None:
    """Print the current model's holdout metrics and profile."""
    _print_table("holdout metrics", json.loads(evaluate.METRICS_JSON.read_text()))
    profile = json.loads(latency.PROFILE_JSON.read_text())
    _print_table(
        "profile",
        {
            "model size (bytes)": profile["model_size_bytes"],
            "single row p50 / p99 (ms)": "{p50_ms} / {p99_ms}".format(**profile["single_row"]),
            "batch rows/s": profile["batch"]["rows_per_s"],
        },
    )


def _print_table(title: str, values: dict[str, Any]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in values.items():
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
