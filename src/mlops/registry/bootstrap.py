"""Paired bootstrap: how much better the candidate is than the champion, with an interval.

Both models score the same holdout rows. Each resample draws rows with replacement once and
scores both models on that one draw, so what the rows have in common (hard rows, easy rows)
cancels out of the difference and only the models' disagreement is left to vary. A resample is
a row of counts (how often each holdout row was drawn), which makes every metric a weighted sum
over rows: one matrix product, or sums over the rows sorted by score once, per block of
resamples, never a Python loop per resample.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops.columns import LABEL, category_text
from mlops.config import EvidenceParams, GateParams
from mlops.pipeline.metrics import MISSING_SLICE
from mlops.registry.gate_rules import LOWER_IS_BETTER, gain, judged_slices

BLOCK = 50  # resamples per block: memory stays at a few BLOCK x rows float64 matrices

# counts (resamples x all holdout rows) -> the metric on each resample
Metric = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Predictions:
    """One model's scores of the holdout rows, and its decision threshold (for F1)."""

    scores: np.ndarray
    threshold: float


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, NaN where a resample left the denominator empty."""
    out = np.full(numerator.shape, np.nan)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)


def _ranking(name: str, labels: np.ndarray, scores: np.ndarray, rows: np.ndarray) -> Metric:
    """ROC AUC (Mann-Whitney with ties counted half) or average precision, by score groups."""
    order = np.argsort(scores[rows], kind="stable")
    columns = rows[order]
    ordered = scores[columns]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    positive = labels[columns].astype(float)

    def metric(counts: np.ndarray) -> np.ndarray:
        weights = counts[:, columns]
        pos = np.add.reduceat(weights * positive, starts, axis=1)  # per distinct score, ascending
        neg = np.add.reduceat(weights, starts, axis=1) - pos
        total_pos, total_neg = pos.sum(axis=1), neg.sum(axis=1)
        if name == "roc_auc":
            below = np.cumsum(neg, axis=1) - neg
            return _ratio((pos * (below + neg / 2)).sum(axis=1), total_pos * total_neg)
        # average precision: thresholds from the highest score down, as scikit-learn's
        true, false = np.cumsum(pos[:, ::-1], axis=1), np.cumsum(neg[:, ::-1], axis=1)
        precision = _ratio(true, true + false)
        return _ratio((pos[:, ::-1] * np.nan_to_num(precision)).sum(axis=1), total_pos)

    return metric


def _per_row(name: str, labels: np.ndarray, model: Predictions, rows: np.ndarray) -> Metric:
    """Log loss, Brier score or F1: weighted sums of one number per row."""
    truth, scores = labels[rows].astype(float), model.scores[rows]
    if name == "f1":
        predicted = (scores >= model.threshold).astype(float)
        missed = truth * (1 - predicted)
        parts = np.column_stack([truth * predicted, (1 - truth) * predicted, missed])

        def f1(counts: np.ndarray) -> np.ndarray:
            tp, fp, fn = (counts[:, rows] @ parts).T
            denominator = 2 * tp + fp + fn
            return np.where(denominator > 0, _ratio(2 * tp, denominator), 0.0)

        return f1
    if name == "brier":
        loss = (scores - truth) ** 2
    else:
        clipped = np.clip(scores, np.finfo(float).eps, 1 - np.finfo(float).eps)
        loss = -(truth * np.log(clipped) + (1 - truth) * np.log(1 - clipped))

    def mean(counts: np.ndarray) -> np.ndarray:
        weights = counts[:, rows]
        return _ratio(weights @ loss, weights.sum(axis=1))

    return mean


def metric(name: str, labels: np.ndarray, model: Predictions, rows: np.ndarray) -> Metric:
    """``name`` on ``rows`` of every resample, as ``pipeline.metrics.score`` computes it once."""
    if name in ("roc_auc", "pr_auc"):
        return _ranking(name, labels, model.scores, rows)
    return _per_row(name, labels, model, rows)


def resamples(rows: int, settings: EvidenceParams) -> Iterator[np.ndarray]:
    """Blocks of resamples as draw counts (resamples x rows): the same for the same seed."""
    generator = np.random.default_rng(settings.seed)
    for start in range(0, settings.resamples, BLOCK):
        size = min(BLOCK, settings.resamples - start)
        drawn = generator.integers(0, rows, size=(size, rows)) + rows * np.arange(size)[:, None]
        yield np.bincount(drawn.ravel(), minlength=size * rows).reshape(size, rows).astype(float)


def intervals(
    name: str,
    labels: np.ndarray,
    candidate: Predictions,
    champion: Predictions,
    subsets: list[np.ndarray],
    settings: EvidenceParams,
    lower_is_better: bool = False,
) -> list[tuple[float, float]]:
    """The ``settings.level`` percentile interval of the candidate's gain over the champion on
    each subset of rows (indexes), every subset judged on the same resamples.

    The gain is candidate - champion, or champion - candidate when lower is better: positive
    always means the candidate is better.
    """
    pairs = [
        (metric(name, labels, candidate, rows), metric(name, labels, champion, rows))
        for rows in subsets
    ]
    sign = -1.0 if lower_is_better else 1.0
    gains = np.empty((len(pairs), settings.resamples))
    done = 0
    for counts in resamples(len(labels), settings):
        for index, (ours, theirs) in enumerate(pairs):
            gains[index, done : done + len(counts)] = sign * (ours(counts) - theirs(counts))
        done += len(counts)
    tail = (1 - settings.level) / 2
    return [
        (float(np.nanquantile(row, tail)), float(np.nanquantile(row, 1 - tail))) for row in gains
    ]


def _slice_rows(holdout: pd.DataFrame, judged: list[tuple[str, str]]) -> list[np.ndarray]:
    """Each slice's row indexes, its values read as ``pipeline.metrics.by_slice`` reads them."""
    values = {
        column: category_text(holdout[column]).fillna(MISSING_SLICE).to_numpy()
        for column in dict.fromkeys(column for column, _ in judged)
    }
    return [np.flatnonzero(values[column] == value) for column, value in judged]


def evidence(
    holdout: pd.DataFrame,
    candidate: tuple[dict[str, Any], Predictions],
    champion: tuple[dict[str, Any], Predictions],
    rules: GateParams,
) -> dict[str, Any]:
    """The gate record's ``evidence``: the candidate's gain over the champion on the primary
    metric, overall and in every judged slice, each with its interval.

    The differences are those of the two models' recorded metrics; only the bounds come from
    the resamples.
    """
    (ours, our_scores), (theirs, their_scores) = candidate, champion
    name, settings = rules.primary, rules.evidence
    judged = judged_slices(name, ours, theirs)
    bounds = intervals(
        name,
        holdout[LABEL].to_numpy(),
        our_scores,
        their_scores,
        [np.arange(len(holdout)), *_slice_rows(holdout, judged)],
        settings,
        name in LOWER_IS_BETTER,
    )

    def compared(mine: dict[str, Any], other: dict[str, Any], low: float, high: float) -> dict:
        return {
            "difference": round(gain(name, mine[name], other[name]), 6),
            "low": round(low, 6),
            "high": round(high, 6),
        }

    overall, *per_slice = bounds
    return {
        "level": settings.level,
        "resamples": settings.resamples,
        "seed": settings.seed,
        "primary": {
            "metric": name,
            "candidate": ours["metrics"][name],
            "champion": theirs["metrics"][name],
            **compared(ours["metrics"], theirs["metrics"], *overall),
        },
        "slices": [
            {
                "column": column,
                "value": value,
                "rows": ours["slices"][column][value]["rows"],
                "metric": name,
                **compared(ours["slices"][column][value], theirs["slices"][column][value], *pair),
            }
            for (column, value), pair in zip(judged, per_slice, strict=True)
        ],
    }
