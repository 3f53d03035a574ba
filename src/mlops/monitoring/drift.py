"""Per-column drift tests on two ``Distribution`` summaries, as Evidently's ``DataDriftPreset``.

The method is chosen as Evidently 0.7 chooses it: with more than 1,000 reference values, the
Wasserstein distance normed by the reference's standard deviation for numeric columns with more
than five distinct values, else the Jensen-Shannon distance (threshold 0.1, drift at >=);
with fewer reference values, Kolmogorov-Smirnov, chi-square or a two-proportion Z-test
(p-values, threshold 0.05). PSI is offered (threshold 0.1). Binning follows Evidently too:
Sturges bins over both samples for numeric columns with more than 20 reference values, one bin
per value otherwise. Every statistic is computed from distinct values and their counts, which
gives the same numbers as the raw columns (see ``tests/example/test_drift_evidently.py``).

The two large-sample statistics are a few lines of numpy on the sorted summaries (they equal
scipy's ``wasserstein_distance`` and ``jensenshannon``); scipy, whose import costs more than
the whole drift computation of a month, is loaded only by the small-sample p-value tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mlops.distribution import NUMERIC, Distribution

SMALL_REFERENCE_ROWS = 1000
BINS_BY_VALUE_UP_TO = 20
DEFAULT_THRESHOLDS = {
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
}
P_VALUE_METHODS = {"ks", "chisquare", "z"}


@dataclass(frozen=True)
class ColumnDrift:
    """One column's test: the score, its threshold, and whether the column drifted."""

    column: str
    method: str
    score: float
    threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def default_method(reference: Distribution, current: Distribution) -> str:
    """Evidently's choice by reference size, column type and distinct values of both samples."""
    distinct = len(np.union1d(reference.values, current.values))
    if reference.present <= SMALL_REFERENCE_ROWS:
        if reference.kind == NUMERIC and distinct > 5:
            return "ks"
        return "chisquare" if distinct > 2 else "z"
    return "wasserstein" if reference.kind == NUMERIC and distinct > 5 else "jensenshannon"


def _sturges_edges(reference: Distribution, current: Distribution) -> np.ndarray:
    """``numpy.histogram_bin_edges(both samples, bins="sturges")`` from the summaries alone."""
    low = min(reference.values[0], current.values[0])
    high = max(reference.values[-1], current.values[-1])
    if low == high:
        low, high = low - 0.5, high + 0.5
    width = (high - low) / (np.log2(reference.present + current.present) + 1.0)
    return np.linspace(low, high, int(np.ceil((high - low) / width)) + 1)


def binned_shares(reference: Distribution, current: Distribution) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's share of rows per bin (Evidently's ``get_binned_data`` without zero fill)."""
    if reference.kind == NUMERIC and len(reference.values) > BINS_BY_VALUE_UP_TO:
        edges = _sturges_edges(reference, current)
        return tuple(  # type: ignore[return-value]
            np.histogram(side.values, bins=edges, weights=side.counts)[0] / side.present
            for side in (reference, current)
        )
    keys = np.union1d(reference.values, current.values)
    return tuple(  # type: ignore[return-value]
        _counts_at(side, keys) / side.present for side in (reference, current)
    )


def _counts_at(side: Distribution, keys: np.ndarray) -> np.ndarray:
    counts = np.zeros(len(keys))
    counts[np.searchsorted(keys, side.values)] = side.counts
    return counts


def _fill_zeros(shares: np.ndarray) -> np.ndarray:
    smallest = shares[shares != 0].min()
    return np.where(shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001, shares)


def wasserstein(reference: Distribution, current: Distribution) -> float:
    """The area between the two CDFs, normed by the reference's standard deviation."""
    points = np.union1d(reference.values, current.values)
    expected, actual = (
        np.cumsum(_counts_at(side, points))[:-1] / side.present for side in (reference, current)
    )
    distance_ = np.abs(expected - actual) @ np.diff(points)
    return float(distance_ / max(reference.std(), 0.001))


def _relative_entropy(shares: np.ndarray, mixture: np.ndarray) -> float:
    held = shares > 0
    return float(np.sum(shares[held] * np.log(shares[held] / mixture[held])))


def jensenshannon(reference: Distribution, current: Distribution) -> float:
    """The square root of the Jensen-Shannon divergence of the binned shares (natural log)."""
    expected, actual = (shares / shares.sum() for shares in binned_shares(reference, current))
    mixture = (expected + actual) / 2
    divergence = _relative_entropy(expected, mixture) + _relative_entropy(actual, mixture)
    return float(np.sqrt(divergence / 2))


def psi(reference: Distribution, current: Distribution) -> float:
    expected, actual = (_fill_zeros(shares) for shares in binned_shares(reference, current))
    return float(np.sum((expected - actual) * np.log(expected / actual)))


def ks(reference: Distribution, current: Distribution) -> float:
    from scipy import stats

    return float(stats.ks_2samp(_raw(reference), _raw(current))[1])


def chisquare(reference: Distribution, current: Distribution) -> float:
    from scipy import stats

    keys = np.union1d(reference.values, current.values)
    expected = _counts_at(reference, keys) * current.present / reference.present
    return float(stats.chisquare(_counts_at(current, keys), expected)[1])


def z(reference: Distribution, current: Distribution) -> float:
    """Two-sided test that both samples hold the same share of values above the smallest one."""
    from scipy import stats

    keys = np.union1d(reference.values, current.values)
    if len(keys) == 1:
        return 1.0
    n1, n2 = reference.present, current.present
    p1, p2 = (1 - _counts_at(side, keys)[0] / side.present for side in (reference, current))
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z_stat = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(z_stat))))


def _raw(side: Distribution) -> np.ndarray:
    return np.repeat(side.values, side.counts)


METHODS: dict[str, Callable[[Distribution, Distribution], float]] = {
    "wasserstein": wasserstein,
    "jensenshannon": jensenshannon,
    "psi": psi,
    "ks": ks,
    "chisquare": chisquare,
    "z": z,
}


def column_drift(
    column: str,
    reference: Distribution,
    current: Distribution,
    method: str = "auto",
    threshold: float | None = None,
) -> ColumnDrift:
    """Test one column; ``method="auto"`` picks Evidently's default, ``threshold=None`` its own."""
    if not reference.present or not current.present:
        raise ValueError(f"{column}: no values to compare (every value is missing)")
    if method == "auto":
        method = default_method(reference, current)
    if method in ("wasserstein", "ks") and reference.kind != NUMERIC:
        raise ValueError(f"{column}: {method} needs a numeric column")
    limit = DEFAULT_THRESHOLDS[method] if threshold is None else threshold
    score = METHODS[method](reference, current)
    if method == "ks":
        drifted = score <= limit
    elif method in P_VALUE_METHODS:
        drifted = score < limit
    else:
        drifted = score >= limit
    return ColumnDrift(
        column, method, score, limit, bool(drifted), reference.present, current.present
    )


def strength(test: Mapping[str, Any]) -> float:
    """How far a test (``ColumnDrift.to_json()``) is into drift, whatever its method: at least 1
    when the column drifted. A distance over its threshold; a threshold over its p-value."""
    if test["method"] in P_VALUE_METHODS:
        return test["threshold"] / test["score"] if test["score"] > 0 else math.inf
    return test["score"] / test["threshold"]
