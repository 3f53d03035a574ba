"""Data-quality checks on a window of collected rows, kept apart from drift.

A broken feed (a sensor sending nothing, a new code nobody mapped, values the contract calls
impossible) is a data problem to fix at the source, not a change in the world to retrain on.
Columns that fail here are left out of the drift verdict, and the window is flagged instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops.config import WindowQualityParams
from mlops.distribution import NUMERIC, Distribution
from mlops.schema import breaking_values, feature_contract

EXAMPLES = 5


def _failure(column: str, check: str, value: float, limit: float, examples: list[Any]) -> dict:
    return {
        "column": column,
        "check": check,
        "value": round(value, 6),
        "limit": limit,
        "examples": examples[:EXAMPLES],
    }


def _breaking_contract(column: str, current: Distribution, spec: dict[str, Any]) -> np.ndarray:
    """Which of the window's distinct values the contract (``schema.yaml``) forbids: the checks
    ``validate`` runs on the production table, where collected rows become data (pandera is
    loaded here, the first time a column with a contract is checked)."""
    if not spec:  # a derived feature: no contract
        return np.zeros(len(current.values), dtype=bool)
    contract = feature_contract(spec, numeric=current.kind == NUMERIC)
    return breaking_values(column, contract, pd.Series(current.values))


def check_column(
    column: str,
    reference: Distribution,
    current: Distribution,
    spec: dict[str, Any],
    limits: WindowQualityParams,
) -> list[dict[str, Any]]:
    """The column's failed checks in this window (an empty list when it is healthy)."""
    failures: list[dict[str, Any]] = []
    if current.count == 0:
        return failures
    missing_rate = current.missing / current.count
    allowed = reference.missing / max(reference.count, 1) + limits.max_missing_increase
    if missing_rate > allowed:
        failures.append(_failure(column, "missing_rate", missing_rate, round(allowed, 6), []))
    # Values only: a lookup join may leave any feature missing; the missing rate covers that.
    broken = _breaking_contract(column, current, spec)
    violations = int(current.counts[broken].sum())
    if violations / current.count > limits.max_violation_share:
        failures.append(
            _failure(
                column,
                "contract",
                violations / current.count,
                limits.max_violation_share,
                current.values[broken].tolist(),
            )
        )
    if current.kind != NUMERIC and current.present:
        unseen = ~np.isin(current.values, reference.values)
        share = current.counts[unseen].sum() / current.present
        if share > limits.max_unseen_share:
            failures.append(
                _failure(
                    column,
                    "unseen_categories",
                    float(share),
                    limits.max_unseen_share,
                    current.values[unseen].tolist(),
                )
            )
    return failures
