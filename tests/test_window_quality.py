"""A monitored window is checked against the data contract by the checks ``validate`` runs
(written once, in ``schema.yaml``): per column, with the share of rows breaking it and examples."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pandas as pd
import pytest

from mlops.config import WindowQualityParams
from mlops.distribution import CATEGORICAL, NUMERIC, Distribution
from mlops.monitoring.window_quality import check_column

LIMITS = WindowQualityParams()


def _contract_failures(
    values: list[Any], kind: str, spec: dict[str, Any], reference: list[Any] | None = None
) -> list[dict[str, Any]]:
    current = Distribution.of(pd.Series(values, dtype=object), kind)
    expected = Distribution.of(pd.Series(reference or values, dtype=object), kind)
    failures = check_column("column", expected, current, spec, LIMITS)
    return [failure for failure in failures if failure["check"] == "contract"]


def test_a_number_outside_its_range_is_counted_with_examples() -> None:
    [failure] = _contract_failures(
        [500.0, 20.0, 500.0, -70.0, None], NUMERIC, {"dtype": "float64", "min": -60, "max": 130}
    )
    assert failure["value"] == 0.6  # 3 of 5 rows: a missing value is not a violation
    assert failure["limit"] == LIMITS.max_violation_share
    assert failure["examples"] == [-70.0, 500.0]


def test_a_category_is_checked_for_allowed_values_and_pattern() -> None:
    spec = {"dtype": "str", "isin": ["AA", "UA", "zz"], "regex": "^[A-Z]{2}$"}
    [failure] = _contract_failures(["AA", "ZZ", "UA", "zz"], CATEGORICAL, spec)
    assert failure["examples"] == ["ZZ", "zz"]  # ZZ not allowed, zz not of the pattern
    assert failure["value"] == 0.5


def test_an_integer_coded_category_is_checked_as_the_integers_the_contract_declares() -> None:
    """Categories arrive as text (``7``); the contract's type, range and codes are integers."""
    spec = {"dtype": "int64", "min": 1, "max": 12}
    [failure] = _contract_failures(["7", "12", "13", "x", "7.5"], CATEGORICAL, spec)
    assert failure["examples"] == ["13", "7.5", "x"]  # out of range, then not integers
    float_codes = {"dtype": "float64", "isin": [1.0, 2.5]}
    assert _contract_failures(["1", "2.5"], CATEGORICAL, float_codes) == []


def test_a_column_without_a_contract_and_a_healthy_one_pass() -> None:
    assert _contract_failures([1.0, 1e9], NUMERIC, {}) == []  # a derived feature
    assert _contract_failures(["EWR", "JFK"], CATEGORICAL, {"isin": ["EWR", "JFK"]}) == []


def test_a_share_under_the_limit_is_tolerated() -> None:
    current = Distribution.of(pd.Series([500.0] + [1.0] * 99), NUMERIC)
    tolerant = WindowQualityParams(max_violation_share=0.05)
    assert check_column("temp", current, current, {"max": 130}, tolerant) == []


@pytest.mark.parametrize(
    "code",
    [
        "import mlops.monitoring.window_quality",
        "from mlops.monitoring.window_quality import check_column\n"
        "from mlops.distribution import NUMERIC, Distribution\n"
        "from mlops.config import WindowQualityParams\n"
        "import pandas as pd\n"
        "d = Distribution.of(pd.Series([1.0]), NUMERIC)\n"
        "check_column('derived', d, d, {}, WindowQualityParams())",
    ],
    ids=["import", "no contract to check"],
)
def test_pandera_is_loaded_only_to_check_a_contract(code: str) -> None:
    """Its import costs a quarter of a second that `monitor drift` pays only when it checks."""
    probe = f"{code}\nimport sys\nassert 'pandera' not in sys.modules, 'pandera was imported'"
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=120)
