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

from mlops import datastore, evaluate, featurize, latency, train, validate
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
