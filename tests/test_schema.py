"""The data contract is written once: monitoring's check of a window's values is ``validate``'s."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pandera.errors import SchemaErrors

from mlops.schema import (
    DataSchema,
    breaking_values,
    column_contracts,
    feature_contract,
    production_columns,
)

SCHEMA = """
tables:
  orders:
    columns:
      shop: {dtype: str, isin: [AA, UA]}
      code: {dtype: str, regex: "^[A-Z]{3}$"}
      month: {dtype: int64, min: 1, max: 12}
      amount: {dtype: float64, min: 1, max: 6000}
"""
VALID = {"shop": "AA", "code": "ABC", "month": "1", "amount": "1"}


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "schema.yaml"
    path.write_text(SCHEMA)
    return path


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("shop", ["AA", "ZZ", "UA", "aa"]),
        ("code", ["ABC", "abc", "ABCD", "XYZ"]),
        ("month", ["7", "13", "0", "12"]),
        ("month", ["7", "x", "7.5"]),  # not integers (validate checks their range once fixed)
        ("amount", ["1", "0.5", "6001", "250.5"]),
    ],
)
def test_the_values_monitoring_flags_are_the_rows_validate_refuses(
    schema_file: Path, column: str, values: list[str]
) -> None:
    """Both read text and coerce it to the column's type before the checks."""
    flagged = breaking_values(column, column_contracts(schema_file)[column], pd.Series(values))
    rows = pd.DataFrame([VALID] * len(values)).assign(**{column: values})
    with pytest.raises(SchemaErrors) as refused:
        DataSchema.load(schema_file).tables["orders"].validate(rows, lazy=True)
    cases = refused.value.failure_cases
    assert set(cases["column"]) == {column}
    assert sorted(set(cases["index"].dropna())) == [row for row, bad in enumerate(flagged) if bad]


def test_a_feature_keeps_its_column_limits_and_a_numeric_one_is_a_float(
    schema_file: Path,
) -> None:
    contracts = column_contracts(schema_file)
    month = feature_contract(contracts["month"], numeric=False)
    assert month == {"dtype": "int64", "nullable": True, "min": 1, "max": 12}
    assert feature_contract(contracts["month"], numeric=True)["dtype"] == "float64"
    assert feature_contract({}, numeric=False) == {"dtype": "str", "nullable": True}
    production = production_columns(contracts, ["month"], ["amount"], None, "label")
    assert production["month"] == month
    assert production["amount"] == feature_contract(contracts["amount"], numeric=True)
