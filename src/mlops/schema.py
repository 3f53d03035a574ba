"""``schema.yaml`` compiled into pandera schemas: the data contract checked before training and
on each monitored window's values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops import yamlio
from mlops.errors import MlopsError
from mlops.task import Task

if TYPE_CHECKING:  # pandera is the pipeline's: the service reads the contracts, not the checks
    import numpy as np
    import pandas as pd
    import pandera.pandas as pa

PRODUCTION_TABLE = "production"
# Provenance of each production row: which request, which model, when it was scored.
PROVENANCE: dict[str, dict[str, Any]] = {
    "request_id": {"dtype": "str"},
    "row": {"dtype": "int64", "min": 0},
    "model_version": {"dtype": "str"},
    "served_at": {"dtype": "datetime"},
}
_DTYPES = {"int64": "int64", "float64": "float64", "str": "str", "datetime": "datetime64[ns, UTC]"}
_LIMITS = ("min", "max", "isin", "regex")


class SchemaFileError(MlopsError):
    """``schema.yaml`` itself says something the contract cannot mean."""


class SchemaViolationError(MlopsError):
    """Rows break the data contract. The message names file, column, check and sample rows."""


def column_contracts(schema_file: Path | None) -> dict[str, dict[str, Any]]:
    """Column name → its spec, from the first table of ``schema.yaml`` that has the column.

    Model inputs are checked against these wherever rows arrive: requests, collected logs.
    """
    if schema_file is None:
        return {}
    columns: dict[str, dict[str, Any]] = {}
    for table in yamlio.load(schema_file.read_text())["tables"].values():
        for name, spec in table["columns"].items():
            columns.setdefault(name, spec)
    return columns


def _column(name: str, spec: dict[str, Any]) -> pa.Column:
    import pandera.pandas as pa

    unknown = set(spec) - {"dtype", "nullable", *_LIMITS}
    if unknown or spec.get("dtype") not in _DTYPES:
        raise ValueError(f"schema column {name!r}: unknown keys {sorted(unknown)} or bad dtype")
    # "Not entirely null" is a rule about a whole table, not one file: validate.py applies it.
    checks: list[pa.Check] = []
    if "min" in spec or "max" in spec:
        checks.append(
            pa.Check.in_range(spec.get("min", float("-inf")), spec.get("max", float("inf")))
        )
    if "isin" in spec:
        checks.append(pa.Check.isin(_allowed(name, spec)))
    if "regex" in spec:
        checks.append(pa.Check.str_matches(spec["regex"]))
    nullable = spec.get("nullable", False)
    # A nullable integer column needs pandas' nullable integers: int64 cannot hold a missing value.
    dtype = "Int64" if spec["dtype"] == "int64" and nullable else _DTYPES[spec["dtype"]]
    return pa.Column(dtype, checks, nullable=nullable)


def _allowed(name: str, spec: dict[str, Any]) -> list[Any]:
    """``isin`` values in the column's type; YAML's unquoted yes/no (booleans) are refused."""
    values = spec["isin"]
    if spec["dtype"] in ("int64", "float64"):
        return list(values)
    booleans = [value for value in values if isinstance(value, bool)]
    if booleans:
        raise SchemaFileError(
            f"schema column {name!r}: isin holds the booleans {booleans}: YAML reads unquoted "
            'yes/no/on/off/true/false as booleans; quote them, e.g. isin: ["Yes", "No"]'
        )
    return [str(value) for value in values]


# The label a collected row carries, by task: 0/1, the class as text, the number.
LABEL_CONTRACTS: dict[Task, dict[str, Any]] = {
    Task.BINARY: {"dtype": "int64", "min": 0, "max": 1},
    Task.MULTICLASS: {"dtype": "str"},
    Task.REGRESSION: {"dtype": "float64"},
}


def production_columns(
    contracts: dict[str, dict[str, Any]],
    categorical: list[str],
    numeric: list[str],
    time_column: str | None,
    label: str,
    context: list[str] | None = None,
    task: Task = Task.BINARY,
) -> dict[str, dict[str, Any]]:
    """The contract of collected, labelled rows: features as the tables' contract has them.

    These rows enter at the feature level (the service saw features, not raw rows), so each
    feature keeps its type and limits from the table it comes from (an integer-coded category
    stays an integer); any may be missing, as after a join. ``context`` columns (slices that
    are not inputs) are kept beside them.
    """
    return {
        **({time_column: {"dtype": "datetime"}} if time_column else {}),
        **{
            name: feature_contract(contracts.get(name, {}), numeric=False)
            for name in [*categorical, *(context or [])]
        },
        **{name: feature_contract(contracts.get(name, {}), numeric=True) for name in numeric},
        label: LABEL_CONTRACTS[task],
        **PROVENANCE,
    }


def feature_contract(spec: dict[str, Any], numeric: bool) -> dict[str, Any]:
    """One feature's contract where rows arrive as features (collected, labelled rows): its
    column's type and limits, any value missing (as after a join); a numeric feature is float64
    whatever its column's type, a category keeps its column's (an integer code stays one)."""
    dtype = spec.get("dtype") if spec.get("dtype") in ("int64", "float64", "str") else None
    limits = {key: value for key, value in spec.items() if key in _LIMITS}
    return {"dtype": "float64" if numeric else dtype or "str", "nullable": True, **limits}


def breaking_values(name: str, spec: dict[str, Any], values: pd.Series) -> np.ndarray:
    """Which of ``values`` break one column's contract, by the checks ``validate`` runs: each
    is coerced to the column's type (text to an integer code, as ``validate`` reads text),
    then checked for range, allowed values and pattern. Missing values are the caller's."""
    import numpy as np
    from pandera.errors import ParserError

    column = _column(name, spec)
    values = values.reset_index(drop=True)
    broken = np.zeros(len(values), dtype=bool)
    try:
        typed = column.dtype.try_coerce(values)
    except ParserError as error:  # values that are not of the column's type
        broken[error.failure_cases["index"].to_numpy(dtype=int)] = True
        typed = column.dtype.coerce(values[~broken])
    for check in column.checks:
        passed = check(typed).check_output
        broken[passed.index[~passed.to_numpy(dtype=bool)]] = True
    return broken


@dataclass(frozen=True)
class DataSchema:
    """One pandera schema per table."""

    tables: dict[str, pa.DataFrameSchema]

    @classmethod
    def load(cls, path: Path, production: dict[str, dict[str, Any]] | None = None) -> DataSchema:
        """The tables of ``schema.yaml``, and the production table when its columns are given."""
        import pandera.pandas as pa

        tables = {
            table: body["columns"]
            for table, body in yamlio.load(path.read_text())["tables"].items()
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
        from pandera.errors import SchemaErrors

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
