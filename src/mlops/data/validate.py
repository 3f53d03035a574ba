"""Stage ``validate``: check every raw file against the contract, then write clean tables.

Nothing is written unless every file of every table passes, so a failure leaves all previous
outputs as they were.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mlops.columns import LABEL
from mlops.config import Params
from mlops.data import quality
from mlops.paths import CLEAN_DIR, QUALITY_JSON, QUALITY_MD
from mlops.progress import track
from mlops.schema import (
    PRODUCTION_TABLE,
    DataSchema,
    SchemaViolationError,
    column_contracts,
    production_columns,
)
from mlops.tables import (
    RawFileError,
    month_files,
    read_csv,
    write_json,
    write_parquet,
    write_text,
)


def _checked_table(
    schema: DataSchema, table: str, files: list[Path], params: Params
) -> tuple[pd.DataFrame, dict[str, Any]]:
    frames, where, failures = [], [], []
    for path in track(files, description=f"Validating {table}"):
        try:
            frame = schema.validate(table, read_csv(path), str(path), params.validate_.sample_rows)
        except (SchemaViolationError, RawFileError) as failure:  # report every broken file
            failures.append(str(failure))
            continue
        frames.append(frame)
        where.append(pd.Series([f"{path.name}:{row}" for row in range(len(frame))]))
    if failures:
        raise SchemaViolationError("\n".join(failures))
    combined = pd.concat(frames, ignore_index=True)
    _require_some_values(combined, table, len(files))
    locations = pd.concat(where, ignore_index=True)
    clean, duplicates = quality.drop_exact_duplicates(combined)
    report = {
        "files": len(files),
        "rows_in": len(combined),
        "duplicates_removed": duplicates,
        "rows_out": len(clean),
        "missing": quality.missing_counts(clean),
        "outliers": quality.outliers(
            clean,
            schema.numeric_columns(table),
            params.validate_.outlier_iqr_k,
            locations.loc[clean.index],
            params.validate_.sample_rows,
        ),
    }
    return clean.reset_index(drop=True), report


def _require_some_values(frame: pd.DataFrame, table: str, files: int) -> None:
    """No column may be empty in the whole table; one file may lack a column recorded later."""
    empty = [column for column in frame.columns if frame[column].isna().all()]
    if empty:
        raise SchemaViolationError(
            f"table {table!r}: columns {empty} are entirely null in all {files} files; "
            "fill them or remove them from schema.yaml"
        )


def load_schema(params: Params, schema_file: Path) -> DataSchema:
    """``schema.yaml``'s tables, and the production table derived from them and the features."""
    production = production_columns(
        column_contracts(schema_file),
        params.features.categorical,
        params.features.numeric,
        params.data.time_column,
        LABEL,
        params.context,
        params.task,
    )
    return DataSchema.load(schema_file, production)


def run(params: Params, schema_file: Path) -> dict[str, Any]:
    """Validate all tables; on success write ``build/clean`` and the data-quality report."""
    schema = load_schema(params, schema_file)
    checked: dict[str, pd.DataFrame] = {}
    report: dict[str, Any] = {"tables": {}}
    for table in schema.tables:
        files = month_files(params.data.dir, table)
        if not files and table == PRODUCTION_TABLE:
            continue  # only data versions made by `mlops retrain-from-production` have it
        if not files:
            raise FileNotFoundError(
                f"no files for table {table!r} under {params.data.dir}/{table}/"
            )
        checked[table], report["tables"][table] = _checked_table(schema, table, files, params)
    for table, frame in checked.items():
        write_parquet(frame, CLEAN_DIR / f"{table}.parquet")
    write_json(QUALITY_JSON, report)
    write_text(QUALITY_MD, quality.markdown(report))
    return report
