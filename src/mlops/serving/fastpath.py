"""Exact scoring of a few rows without scikit-learn's per-call overhead.

A one-row ``predict_proba`` through the pipeline costs milliseconds, almost none of it arithmetic:
pandas column selection in the ColumnTransformer, then one Python call per tree. Here the
encoder becomes a dict lookup per column and the trees of a histogram gradient boosting model
are scored by treelite's tree walk (GTIL, in C++), from a treelite model built at load time from
the loaded estimator itself: the same float64 thresholds, missing-value directions and
categories, with nothing written to the model folder. It is only used after ``parity`` shows it
equals the pipeline; a pipeline of any other shape, or a model treelite cannot import, is scored
by the pipeline itself. Many rows at once go to the estimator's own ``predict_proba`` (or
``predict``), faster per row than treelite's walk. Every task: a binary model's probability
(the raw score through expit), a multiclass model's class probabilities (softmax), a
regression's value (the loss's inverse link), each as the estimator itself turns raw scores.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeAlias, cast

import numpy as np
import pandas as pd
from scipy.special import expit, softmax
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

from mlops.task import Task, predict

# Up to this many rows treelite's tree walk is cheaper than the estimator's own prediction,
# whose per-call cost (one Python call per tree) it avoids; per row it is ~2x slower, so the two
# cross near 200 rows (1,000 rows: 27 ms against 14 ms, one thread).
TREELITE_MAX_ROWS = 128
TOLERANCE = 1e-6
_FLOAT64 = ctypes.c_char_p(b"float64")  # treelite's name of the matrix's type


class UnsupportedModelError(ValueError):
    """The pipeline has a shape the fast path does not reproduce."""


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


HistGradientBoosting: TypeAlias = HistGradientBoostingClassifier | HistGradientBoostingRegressor


def _known_categories(estimator: HistGradientBoosting) -> dict[int, set[float]]:
    """Per categorical input column of the estimator, the codes it saw in training.

    scikit-learn sends any other code (unknown, negative, not a code at all) the way missing
    values go; treelite sends a code missing from a split's category list to the right child. So
    the encoder here turns every code the model does not know into NaN, which both send the
    missing values' way.
    """
    if estimator.is_categorical_ is None:
        return {}
    bitsets, bitset_row = estimator._bin_mapper.make_known_categories_bitsets()
    inputs = np.flatnonzero(estimator.is_categorical_)
    # Since scikit-learn 1.4 the estimator encodes categorical columns again (its own
    # OrdinalEncoder, columns first) and its trees split on those codes; before, on the inputs.
    inner = getattr(estimator, "_preprocessor", None)
    if inner is not None:
        values = inner.named_transformers_["encoder"].categories_
        features = np.arange(len(inputs))
    else:
        values = [np.arange(256, dtype=np.float64)] * len(inputs)
        features = inputs
    known: dict[int, set[float]] = {}
    for column, feature, categories in zip(inputs, features, values, strict=True):
        row = bitsets[bitset_row[feature]]
        known[int(column)] = {
            float(category)
            for code, category in enumerate(categories[:256])
            if not pd.isna(category) and (int(row[code >> 5]) >> (code & 31)) & 1
        }
    return known


def _for_model(columns: list[_Column], known: dict[int, set[float]]) -> list[_Column]:
    """The encoder's columns, with every code the model does not know encoded as missing."""
    adjusted = list(columns)
    for index, seen in known.items():
        column = columns[index]
        if column.codes is None:
            raise UnsupportedModelError(f"the model takes the number {column.name} as a category")
        adjusted[index] = replace(
            column,
            codes={value: code for value, code in column.codes.items() if code in seen},
            unknown=column.unknown if column.unknown in seen else math.nan,
            missing=column.missing if column.missing in seen else math.nan,
        )
    return adjusted


def _treelite(estimator: HistGradientBoosting) -> _RawScores:
    """The estimator's trees as a treelite model built in memory: raw scores of a matrix, on
    one thread, as the service runs (one per process, replicas to scale)."""
    try:
        import treelite
        import treelite.sklearn
    except ImportError as error:  # the fast path is an optimisation: the pipeline still scores
        raise UnsupportedModelError(f"treelite is not installed ({error})") from None
    try:
        model = treelite.sklearn.import_model(estimator)
    # What treelite's importer raises for an estimator it does not support (it asserts on
    # shapes and reads attributes an unsupported model lacks): the pipeline scores instead.
    except (treelite.TreeliteError, NotImplementedError, AssertionError, AttributeError) as error:
        raise UnsupportedModelError(f"treelite cannot import the model: {error!r}") from None
    if (model.input_type, model.output_type) != ("float64", "float64"):
        raise UnsupportedModelError(f"treelite built a {model.input_type} model")
    try:
        return _RawScores(model)
    except (ImportError, AttributeError) as error:  # a treelite whose C API binding moved
        raise UnsupportedModelError(f"treelite's GTIL cannot be called: {error!r}") from None


class _RawScores:
    """Raw scores of a float64 matrix (baseline included) by GTIL, treelite's tree walk, through
    the call of treelite's C API that ``gtil.predict`` makes (``TreeliteGTILPredict``).

    ``gtil.predict`` makes and parses a JSON config on every call, a quarter of a one-row walk;
    here the config is made once (it is only read, so concurrent calls may share it). And the
    wrapper reads the output's shape through ``numpy.ctypeslib.as_array``, which leaves six
    objects in reference cycles per call: the garbage collector then ran every ~100 one-row
    requests, and those requests were the service's p99. The shape of a row's scores is read
    once here, by the wrapper itself.
    """

    def __init__(self, model: Any) -> None:
        from treelite.core import _LIB, _check_call
        from treelite.gtil import gtil

        self._model = model
        self._features = model.num_feature  # a query of the C model: read once, not per call
        self._predict, self._check = _LIB.TreeliteGTILPredict, _check_call
        self._config = gtil.GTILConfig(predict_type="raw", nthread=1)
        one_row = np.zeros((1, self._features))
        self._row_shape = gtil._predict_impl(model, one_row, config=self._config).shape[1:]

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(matrix, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self._features:  # C reads what we say
            raise ValueError(f"expected rows of {self._features} columns, got {rows.shape}")
        scores = np.zeros((len(rows), *self._row_shape), dtype=np.float64)
        self._check(
            self._predict(
                self._model.handle,
                ctypes.c_void_p(rows.ctypes.data),
                _FLOAT64,
                ctypes.c_uint64(len(rows)),
                ctypes.c_void_p(scores.ctypes.data),
                self._config.handle,
            )
        )
        return scores


# The estimator each task's fast path walks.
_ESTIMATORS = {
    Task.BINARY: HistGradientBoostingClassifier,
    Task.MULTICLASS: HistGradientBoostingClassifier,
    Task.REGRESSION: HistGradientBoostingRegressor,
}


class FastScorer:
    """A model's predictions (``mlops.task.predict``'s form) from records (dicts of raw inputs),
    exactly as the pipeline."""

    def __init__(self, pipeline: Pipeline, task: Task = Task.BINARY) -> None:
        if len(pipeline.steps) != 2 or not isinstance(pipeline[0], ColumnTransformer):
            raise UnsupportedModelError("expected a pipeline of a ColumnTransformer and a model")
        estimator = pipeline[-1]
        if not isinstance(estimator, _ESTIMATORS[task]):
            raise UnsupportedModelError(f"no fast path for {type(estimator).__name__} ({task})")
        columns = _columns(pipeline[0])
        if len(columns) != estimator.n_features_in_:
            raise UnsupportedModelError("the encoder's columns are not the model's inputs")
        try:
            self._columns = _for_model(columns, _known_categories(estimator))
        except (AttributeError, KeyError, IndexError) as error:  # internals of another version
            raise UnsupportedModelError(f"cannot read the model's categories: {error!r}") from None
        self._pipeline = pipeline
        self._estimator = estimator
        self.task = task
        self._raw_scores = _treelite(estimator)

    def __reduce__(self) -> tuple[Any, ...]:
        # The treelite model lives in C++ memory: a copy is built again from the pipeline.
        return (FastScorer, (self._pipeline, self.task))

    def encode(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The matrix the ColumnTransformer would produce, without pandas; a category the model
        does not know is missing (NaN)."""
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

    def predict(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        matrix = self.encode(records)
        if len(records) > TREELITE_MAX_ROWS:
            return predict(self.task, self._estimator, matrix)
        # The raw scores (baseline included), turned as the estimator turns them.
        raw = self._raw_scores(matrix)[:, 0, :]
        if self.task is Task.BINARY:
            return expit(raw[:, 0])
        if self.task is Task.MULTICLASS:
            return softmax(raw, axis=1)
        return self._estimator._loss.link.inverse(raw[:, 0])


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


def client_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as a client sends them: a mapping per row, missing values as ``None``."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return cast("list[dict[str, Any]]", rows)


def parity(scorer: FastScorer, pipeline: Pipeline, inputs: pd.DataFrame) -> float:
    """Largest |difference| between the fast path and the pipeline on ``inputs``, both routes.

    Rows go through treelite in groups of ``TREELITE_MAX_ROWS`` and through the estimator all
    at once, so both code paths the service uses are compared.
    """
    expected = predict(scorer.task, pipeline, inputs)
    records = client_records(inputs)
    walked = np.concatenate(
        [
            scorer.predict(records[start : start + TREELITE_MAX_ROWS])
            for start in range(0, len(records), TREELITE_MAX_ROWS)
        ]
    )
    whole = scorer.predict(records) if len(records) > TREELITE_MAX_ROWS else walked
    return float(max(np.abs(walked - expected).max(), np.abs(whole - expected).max()))
