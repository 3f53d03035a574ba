"""Exact scoring of a few rows without scikit-learn's per-call overhead.

A one-row ``predict_proba`` through the pipeline costs milliseconds, almost none of it arithmetic:
pandas column selection in the ColumnTransformer, then one Python call per tree. Here the
encoder becomes a dict lookup per column and all trees of a histogram gradient boosting model
walk one level at a time in numpy, with the same float64 thresholds, missing-value directions
and category bitsets as scikit-learn's own tree walk. It is only used after ``parity`` shows it
equals the pipeline; a pipeline of any other shape is scored by the pipeline itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

# Up to this many rows the numpy tree walk is cheaper than one call per tree in scikit-learn.
WALK_MAX_ROWS = 16
TOLERANCE = 1e-6


class UnsupportedModelError(ValueError):
    """The pipeline has a shape the fast path does not reproduce."""


@dataclass(frozen=True)
class _Forest:
    """Every tree of the model flattened into one node table; leaves point to themselves."""

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    categorical: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    bitset: np.ndarray  # per node: its row in left_bitsets (categorical nodes only)
    known_row: np.ndarray  # per node: its feature's row in known_bitsets
    left_bitsets: np.ndarray  # categories that go left, 256 bits per categorical split
    known_bitsets: np.ndarray  # categories seen in training, 256 bits per categorical feature
    roots: np.ndarray
    depth: int
    baseline: float

    @classmethod
    def of(cls, estimator: HistGradientBoostingClassifier) -> _Forest:
        if estimator.n_trees_per_iteration_ != 1:
            raise UnsupportedModelError("only binary classifiers are supported")
        known, f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
        parts: dict[str, list[np.ndarray]] = {name: [] for name in _NODE_FIELDS}
        bitsets: list[np.ndarray] = []
        roots, offset, depth = [], 0, 0
        for (predictor,) in estimator._predictors:
            nodes = predictor.nodes
            index = np.arange(len(nodes)) + offset
            leaf = nodes["is_leaf"].astype(bool)
            parts["feature"].append(nodes["feature_idx"].astype(np.intp))
            parts["threshold"].append(nodes["num_threshold"].astype(np.float64))
            parts["missing_left"].append(nodes["missing_go_to_left"].astype(bool))
            parts["categorical"].append(nodes["is_categorical"].astype(bool))
            parts["left"].append(np.where(leaf, index, nodes["left"] + offset))
            parts["right"].append(np.where(leaf, index, nodes["right"] + offset))
            parts["value"].append(nodes["value"].astype(np.float64))
            parts["bitset"].append(nodes["bitset_idx"].astype(np.intp) + len(bitsets))
            bitsets.extend(predictor.raw_left_cat_bitsets)
            roots.append(offset)
            offset += len(nodes)
            depth = max(depth, int(nodes["depth"].max()))
        table = {name: np.concatenate(values) for name, values in parts.items()}
        return cls(
            feature=table["feature"],
            threshold=table["threshold"],
            missing_left=table["missing_left"],
            categorical=table["categorical"],
            left=table["left"],
            right=table["right"],
            value=table["value"],
            bitset=np.where(table["categorical"], table["bitset"], 0),
            known_row=np.asarray(f_idx_map, dtype=np.intp)[table["feature"]],
            left_bitsets=np.asarray(bitsets, dtype=np.uint32).reshape(-1, 8),
            known_bitsets=np.asarray(known, dtype=np.uint32).reshape(-1, 8),
            roots=np.asarray(roots, dtype=np.intp),
            depth=depth,
            baseline=float(np.ravel(estimator._baseline_prediction)[0]),
        )

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """The model's raw score (log-odds) per row, as scikit-learn's tree walk computes it."""
        node = np.broadcast_to(self.roots, (len(rows), len(self.roots)))
        line = np.arange(len(rows))[:, None]
        has_categories = bool(self.categorical.any())
        for _ in range(self.depth):
            value = rows[line, self.feature[node]]
            missing_left = self.missing_left[node]
            go_left = value <= self.threshold[node]
            if has_categories:
                go_left = np.where(
                    self.categorical[node], self._categorical_left(node, value), go_left
                )
            go_left = np.where(np.isnan(value), missing_left, go_left)
            node = np.where(go_left, self.left[node], self.right[node])
        return self.baseline + self.value[node].sum(axis=1)

    def _categorical_left(self, node: np.ndarray, value: np.ndarray) -> np.ndarray:
        """Left for categories in the node's bitset; unknown or negative ones go as missing."""
        usable = ~np.isnan(value) & (value >= 0)
        code = np.where(usable, value, 0).astype(np.intp) & 255
        word, bit = code >> 5, (code & 31).astype(np.uint32)
        in_left = (self.left_bitsets[self.bitset[node], word] >> bit) & 1
        known = (self.known_bitsets[self.known_row[node], word] >> bit) & 1
        missing_left = self.missing_left[node]
        return np.where(usable & (in_left == 1), True, np.where(known == 1, False, missing_left))


_NODE_FIELDS = (
    "feature",
    "threshold",
    "missing_left",
    "categorical",
    "left",
    "right",
    "value",
    "bitset",
)


@dataclass(frozen=True)
class _Column:
    """How one raw input becomes one model column: a category code or a float."""

    name: str
    codes: Mapping[Any, float] | None
    unknown: float
    missing: float


def _columns(preprocess: ColumnTransformer) -> list[_Column]:
    columns: list[_Column] = []
    for _, transformer, names in preprocess.transformers_:
        if transformer == "drop" or len(names) == 0:  # an empty selection is never fitted
            continue
        if isinstance(transformer, OrdinalEncoder):
            if transformer.handle_unknown != "use_encoded_value":
                raise UnsupportedModelError("the ordinal encoder must encode unknown categories")
            for name, categories in zip(names, transformer.categories_, strict=True):
                codes = {
                    category: float(code)
                    for code, category in enumerate(categories)
                    if not pd.isna(category)
                }
                columns.append(
                    _Column(
                        name,
                        codes,
                        float(transformer.unknown_value),
                        float(transformer.encoded_missing_value),
                    )
                )
        elif transformer == "passthrough" or (
            isinstance(transformer, FunctionTransformer) and transformer.func is None
        ):
            columns.extend(_Column(name, None, math.nan, math.nan) for name in names)
        else:
            raise UnsupportedModelError(f"no fast path for {type(transformer).__name__}")
    return columns


class FastScorer:
    """Positive-class probabilities from records (dicts of raw inputs), exactly as the pipeline."""

    def __init__(self, pipeline: Pipeline) -> None:
        if len(pipeline.steps) != 2 or not isinstance(pipeline[0], ColumnTransformer):
            raise UnsupportedModelError("expected a pipeline of a ColumnTransformer and a model")
        estimator = pipeline[-1]
        if not isinstance(estimator, HistGradientBoostingClassifier):
            raise UnsupportedModelError(f"no fast path for {type(estimator).__name__}")
        self._columns = _columns(pipeline[0])
        self._estimator = estimator
        self._forest = _Forest.of(estimator)

    def encode(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The matrix the ColumnTransformer would produce, without pandas."""
        matrix = np.empty((len(records), len(self._columns)), dtype=np.float64)
        for row, record in enumerate(records):
            for index, column in enumerate(self._columns):
                value = record.get(column.name)
                if column.codes is None:
                    matrix[row, index] = math.nan if value is None else value
                elif value is None or (isinstance(value, float) and math.isnan(value)):
                    matrix[row, index] = column.missing
                else:
                    matrix[row, index] = column.codes.get(value, column.unknown)
        return matrix

    def probabilities(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        matrix = self.encode(records)
        if len(records) <= WALK_MAX_ROWS:
            return expit(self._forest.raw(matrix))
        return self._estimator.predict_proba(matrix)[:, 1]


def reference_rows(reference: Mapping[str, Any], rows: int, seed: int = 0) -> pd.DataFrame:
    """Random inputs over the reference profile's range: every seen category, an unseen one,
    numbers across each column's range, and missing values in every column.

    They need no data files, so a parity check can run wherever the model folder is.
    """
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    for name, profile in reference["features"].items():
        if profile["kind"] == "categorical":
            choices = np.asarray([*profile["values"], "\x00unseen", None], dtype=object)
            columns[name] = rng.choice(choices, rows)
        else:
            values = rng.uniform(profile["values"][0], profile["values"][-1], rows)
            columns[name] = np.where(rng.random(rows) < 0.05, np.nan, values)
    return pd.DataFrame(columns)


def parity(scorer: FastScorer, pipeline: Pipeline, inputs: pd.DataFrame) -> float:
    """Largest |difference| between the fast path and the pipeline on ``inputs``, both routes.

    Rows go through the tree walk in groups of ``WALK_MAX_ROWS`` and through the matrix route
    all at once, so both code paths the service uses are compared.
    """
    expected = pipeline.predict_proba(inputs)[:, 1]
    records = inputs.astype(object).where(inputs.notna(), None).to_dict("records")
    walked = np.concatenate(
        [
            scorer.probabilities(records[start : start + WALK_MAX_ROWS])
            for start in range(0, len(records), WALK_MAX_ROWS)
        ]
    )
    whole = scorer.probabilities(records) if len(records) > WALK_MAX_ROWS else walked
    return float(max(np.abs(walked - expected).max(), np.abs(whole - expected).max()))
