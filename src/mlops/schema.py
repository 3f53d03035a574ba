"""``schema.yaml`` compiled into pandera schemas: the data contract checked before training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import yaml
from pandera.errors import SchemaErrors

from mlops.errors import MlopsError

PRODUCTION_TABLE = "production"
# Provenance of each production row: which request, which model, when it was scored.
PROVENANCE = {
    "request_id": {"dtype": "str"},
    "row": {"dtype": "int64", "min": 0},
    "model_version": {"dtype": "str"},
    "served_at": {"dtype": "datetime"},
}
_DTYPES = {"int64": "int64", "float64": "float64", "str": "str", "datetime": "datetime64[ns, UTC]"}


class SchemaViolationError(MlopsError):
    """Rows break the data contract. The message names file, column, check and sample rows."""


def column_contracts(schema_file: Path | None) -> dict[str, dict[str, Any]]:
    """Column name → its spec, from the first table of ``schema.yaml`` that has the column.

    Model inputs are checked against these wherever rows arrive: requests, collected logs.
    """
    if schema_file is None:
        return {}
    columns: dict[str, dict[str, Any]] = {}
    for table in yaml.safe_load(schema_file.read_text())["tables"].values():
        for name, spec in table["columns"].items():
            columns.setdefault(name, spec)
    return columns


def _not_entirely_null(series: pd.Series) -> bool:
    return bool(series.notna().any()) or series.empty


def _column(name: str, spec: dict[str, Any]) -> pa.Column:
    unknown = set(spec) - {"dtype", "nullable", "min", "max", "isin", "regex"}
    if unknown or spec.get("dtype") not in _DTYPES:
        raise ValueError(f"schema column {name!r}: unknown keys {sorted(unknown)} or bad dtype")
    checks = [
        pa.Check(
            _not_entirely_null,
            ignore_na=False,
            name="not_entirely_null",
            error="column is entirely null",
        )
    ]
    if "min" in spec or "max" in spec:
        checks.append(
            pa.Check.in_range(spec.get("min", float("-inf")), spec.get("max", float("inf")))
        )
    if "isin" in spec:
        checks.append(pa.Check.isin([str(value) for value in spec["isin"]]))
    if "regex" in spec:
        checks.append(pa.Check.str_matches(spec["regex"]))
    return pa.Column(_DTYPES[spec["dtype"]], checks, nullable=spec.get("nullable", False))


def production_columns(
    contracts: dict[str, dict[str, Any]],
    categorical: list[str],
    numeric: list[str],
    time_column: str,
    label: str,
) -> dict[str, dict[str, Any]]:
    """The contract of collected, labelled rows: features as the tables' contract has them.

    These rows enter at the feature level (the service saw features, not raw rows), so each
    feature keeps its limits from the table it comes from; any may be missing, as after a join.
    """
    kept = {"min", "max", "isin", "regex"}

    def feature(name: str, dtype: str) -> dict[str, Any]:
        limits = {key: value for key, value in contracts.get(name, {}).items() if key in kept}
        return {"dtype": dtype, "nullable": True, **limits}

    return {
        time_column: {"dtype": "datetime"},
        **{name: feature(name, "str") for name in categorical},
        **{name: feature(name, "float64") for name in numeric},
        label: {"dtype": "int64", "min": 0, "max": 1},
        **PROVENANCE,
    }


@dataclass(frozen=True)
class DataSchema:
    """One pandera schema per table."""

    tables: dict[str, pa.DataFrameSchema]

    @classmethod
    def load(cls, path: Path, production: dict[str, dict[str, Any]] | None = None) -> DataSchema:
        """The tables of ``schema.yaml``, and the production table when its columns are given."""
        tables = {
            table: body["columns"]
            for table, body in yaml.safe_load(path.read_text())["tables"].items()
        }
        if production is not None:
            tables[PRODUCTION_TABLE] = production
        return cls(
            {
                table: pa.DataFrameSchema(
                    {name: _column(name, spec) for name, spec in columns.items()},
                    name=table,
                    coerce=True,
                    strict=True,
                    ordered=False,
                    unique_column_names=True,
                )
                for table, columns in tables.items()
            }
        )

    def columns(self, table: str) -> list[str]:
        return list(self.tables[table].columns)

    def numeric_columns(self, table: str) -> list[str]:
        return [
            name
            for name, column in self.tables[table].columns.items()
            if str(column.dtype) in ("int64", "float64")
        ]

    def validate(
        self, table: str, frame: pd.DataFrame, source: str, sample_rows: int
    ) -> pd.DataFrame:
        """The frame with declared dtypes, or ``SchemaViolationError`` listing each failed check."""
        try:
            return self.tables[table].validate(frame, lazy=True)
        except SchemaErrors as errors:
            raise SchemaViolationError(
                _describe(errors.failure_cases, table, source, sample_rows)
            ) from None


def _describe(failures: pd.DataFrame, table: str, source: str, sample_rows: int) -> str:
    lines = [f"{source}: the data breaks schema.yaml"]
    for (column, check), group in failures.groupby(
        [failures["column"].astype(str), failures["check"].astype(str)], sort=True
    ):
        rows = [int(index) for index in group["index"].dropna().unique()[:sample_rows]]
        if rows:
            values = [str(value) for value in group["failure_case"].unique()[:sample_rows]]
            where = f"{len(group)} rows, e.g. rows {rows} with values {values}"
        else:  # a check on the whole table or column: the failure case names what is wrong
            where = ", ".join(map(str, group["failure_case"].unique()[:sample_rows]))
        subject = f"table {table!r}" if column == table else f"column {column!r}"
        lines.append(f"  {subject} failed {check}: {where}")
    return "\n".join(lines)
