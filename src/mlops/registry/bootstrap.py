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
from typing import Any

import numpy as np
import pandas as pd

from mlops.columns import LABEL, category_text
from mlops.config import EvidenceParams, GateParams
from mlops.pipeline.metrics import MISSING_SLICE
from mlops.registry.gate_rules import judged_slices
from mlops.task import Predictions, Task, gain, lower_is_better

BLOCK = 50  # resamples per block: memory stays at a few BLOCK x rows float64 matrices

# counts (resamples x all holdout rows) -> the metric on each resample
Metric = Callable[[np.ndarray], np.ndarray]


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


def _weighted_mean(per_row: np.ndarray, rows: np.ndarray) -> Metric:
    def mean(counts: np.ndarray) -> np.ndarray:
        weights = counts[:, rows]
        return _ratio(weights @ per_row, weights.sum(axis=1))

    return mean


def _f1(truth: np.ndarray, decided: np.ndarray, rows: np.ndarray, average: str) -> Metric:
    """F1 from weighted true-positive, false-positive and false-negative counts: of class 1
    (``binary``), or of each column of ``truth``/``decided`` (one per class) averaged over the
    classes (``macro``) or by their weight in the rows (``weighted``); 0 where undefined, as
    scikit-learn's ``zero_division=0``."""
    parts = np.column_stack([truth * decided, (1 - truth) * decided, truth * (1 - decided)])
    classes = truth.shape[1] if truth.ndim == 2 else 1

    def f1(counts: np.ndarray) -> np.ndarray:
        tp, fp, fn = np.split(counts[:, rows] @ parts, 3, axis=1)  # resamples x classes each
        denominator = 2 * tp + fp + fn
        per_class = np.where(denominator > 0, _ratio(2 * tp, denominator), 0.0)
        if average == "weighted":
            return _ratio((per_class * (tp + fn)).sum(axis=1), (tp + fn).sum(axis=1))
        return per_class.sum(axis=1) / classes

    return f1


def _r2(truth: np.ndarray, values: np.ndarray, rows: np.ndarray) -> Metric:
    """1 - residual / total sum of squares, both weighted: sums of per-row terms."""
    terms = np.column_stack([(truth - values) ** 2, truth, truth**2, np.ones_like(truth)])

    def r2(counts: np.ndarray) -> np.ndarray:
        residual, total, squares, weight = (counts[:, rows] @ terms).T
        return 1 - _ratio(residual, squares - _ratio(total**2, weight))

    return r2


def _one_hot(labels: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    return (labels[:, None] == np.asarray(classes, dtype=object)[None, :]).astype(float)


def _multiclass(name: str, labels: np.ndarray, model: Predictions, rows: np.ndarray) -> Metric:
    truth = _one_hot(labels[rows], model.classes)
    decided = _one_hot(model.rows(rows).decisions(), model.classes)
    if name in ("macro_f1", "weighted_f1"):
        return _f1(truth, decided, rows, name.removesuffix("_f1"))
    if name == "accuracy":
        return _weighted_mean((truth * decided).sum(axis=1), rows)
    if name == "roc_auc_ovr":  # the mean over classes of each against the rest
        each = [
            _ranking("roc_auc", labels == value, model.values[:, column], rows)
            for column, value in enumerate(model.classes)
        ]
        return lambda counts: np.mean([one(counts) for one in each], axis=0)
    chosen = (truth * model.values[rows]).sum(axis=1)  # log loss: the true class's probability
    return _weighted_mean(-np.log(np.clip(chosen, np.finfo(float).eps, 1)), rows)


def _regression(name: str, labels: np.ndarray, model: Predictions, rows: np.ndarray) -> Metric:
    truth, values = labels[rows].astype(float), model.values[rows]
    if name == "r2":
        return _r2(truth, values, rows)
    if name == "mae":
        return _weighted_mean(np.abs(truth - values), rows)
    squared = _weighted_mean((truth - values) ** 2, rows)
    return lambda counts: np.sqrt(squared(counts))


def _binary(name: str, labels: np.ndarray, model: Predictions, rows: np.ndarray) -> Metric:
    if name in ("roc_auc", "pr_auc"):
        return _ranking(name, labels, model.values, rows)
    truth, scores = labels[rows].astype(float), model.values[rows]
    if name == "f1":
        return _f1(truth, model.rows(rows).decisions().astype(float), rows, "binary")
    if name == "brier":
        return _weighted_mean((scores - truth) ** 2, rows)
    clipped = np.clip(scores, np.finfo(float).eps, 1 - np.finfo(float).eps)
    return _weighted_mean(-(truth * np.log(clipped) + (1 - truth) * np.log(1 - clipped)), rows)


_BY_TASK = {Task.BINARY: _binary, Task.MULTICLASS: _multiclass, Task.REGRESSION: _regression}


def metric(name: str, labels: np.ndarray, model: Predictions, rows: np.ndarray) -> Metric:
    """``name`` on ``rows`` of every resample, as ``pipeline.metrics.score`` computes it once."""
    return _BY_TASK[model.task](name, labels, model, rows)


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
        lower_is_better(name),
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
