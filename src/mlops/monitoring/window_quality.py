"""Data-quality checks on a window of collected rows, kept apart from drift.

A broken feed (a sensor sending nothing, a new code nobody mapped, values the contract calls
impossible) is a data problem to fix at the source, not a change in the world to retrain on.
Columns that fail here are left out of the drift verdict, and the window is flagged instead.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from mlops.config import WindowQualityParams
from mlops.distribution import NUMERIC, Distribution

EXAMPLES = 5


def _failure(column: str, check: str, value: float, limit: float, examples: list[Any]) -> dict:
    return {
        "column": column,
        "check": check,
        "value": round(value, 6),
        "limit": limit,
        "examples": examples[:EXAMPLES],
    }


def _breaking_contract(current: Distribution, spec: dict[str, Any]) -> np.ndarray:
    """Which of the window's distinct values the contract (``schema.yaml``) forbids."""
    values = current.values
    if current.kind == NUMERIC:
        low, high = spec.get("min", -np.inf), spec.get("max", np.inf)
        return (values < low) | (values > high)
    broken = np.zeros(len(values), dtype=bool)
    if "isin" in spec:
        broken |= ~np.isin(values, [str(value) for value in spec["isin"]])
    if "regex" in spec:
        pattern = re.compile(spec["regex"])
        broken |= np.array([pattern.fullmatch(str(value)) is None for value in values], bool)
    return broken


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
    broken = _breaking_contract(current, spec)
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
