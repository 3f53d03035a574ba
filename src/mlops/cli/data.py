"""``mlops data ...`` (the versioned raw data) and the stages that read it: validate, featurize."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.cli.app import app
from mlops.cli.common import ParamsOption, console
from mlops.config import PARAMS_FILE, SCHEMA_FILE, load_params

data_app = typer.Typer(help="The versioned raw data (data.dvc).", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("pull")
def data_pull(params: ParamsOption = PARAMS_FILE) -> None:
    """Make data/ hold the version data.dvc records: as is, from the remote, or rebuilt."""
    from mlops.data import datastore

    console.print(f"data: {datastore.ensure(load_params(params))}")


@data_app.command("add-month")
def data_add_month(
    month: Annotated[str, typer.Argument(help="YYYY-MM")], params: ParamsOption = PARAMS_FILE
) -> None:
    """Add one month from the configured source as a new data version (then commit data.dvc)."""
    from mlops.data import datastore

    console.print(f"data.dvc now records {datastore.add_month(load_params(params), month)}")


@data_app.command("create")
def data_create(
    months: Annotated[list[str] | None, typer.Option("--month", help="YYYY-MM; repeat")] = None,
    every: Annotated[int, typer.Option(help="keep every n-th row of the main table")] = 1,
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """Write a new data version from the source (default: data.initial_months in params)."""
    from mlops.data import datastore

    config = load_params(params)
    digest = datastore.create(config, months or config.data.initial_months, every)
    console.print(f"data.dvc now records {digest}")


@data_app.command("import")
def data_import(
    paths: Annotated[list[Path], typer.Argument(help="CSV or Parquet files")],
    table: Annotated[str, typer.Option(help="the table (folder under data.dir) they belong to")],
    lookup: Annotated[bool, typer.Option(help="keep the table whole, not split by month")] = False,
    new: Annotated[
        bool, typer.Option(help="a version of only these files (leave the recorded data out)")
    ] = False,
    params: ParamsOption = PARAMS_FILE,
) -> None:
    """Import your own files into data/<table>/ as a new data version (then commit data.dvc)."""
    from mlops.data.data_import import import_files

    written, digest = import_files(load_params(params), paths, table, lookup, new)
    console.print(f"wrote {', '.join(map(str, written))}; data.dvc now records {digest}")


@data_app.command("add")
def data_add(params: ParamsOption = PARAMS_FILE) -> None:
    """Record data/ as it is now as a new version, meta included: use it instead of dvc add."""
    from mlops.data import datastore

    console.print(f"data.dvc now records {datastore.record(load_params(params))}")


@app.command("validate")
def validate_command(
    params: ParamsOption = PARAMS_FILE,
    schema: Annotated[Path, typer.Option(help="The data contract.")] = SCHEMA_FILE,
) -> None:
    """Check raw data against the schema; write clean tables and the data-quality report."""
    from mlops.data import validate

    report = validate.run(load_params(params), schema)
    for table, body in report["tables"].items():
        console.print(
            f"{table}: {body['rows_out']} rows valid, {body['duplicates_removed']} "
            f"duplicates removed, {len(body['outliers'])} columns with outliers"
        )


@app.command("featurize")
def featurize_command(params: ParamsOption = PARAMS_FILE) -> None:
    """Build features and the label; split by time into train, validation and holdout."""
    from mlops.data import featurize

    for name, part in featurize.run(load_params(params)).items():
        span = f", {part['start']} .. {part['end']}" if "start" in part else ""
        console.print(f"{name}: {part['rows']} rows{span}")
