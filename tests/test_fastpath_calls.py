"""What one call of the fast path leaves behind: no garbage for the collector, no foreign read.

A small synthetic model of the test's own, not the repository's.
"""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from mlops.serving import fastpath


@pytest.fixture(scope="module")
def scorer() -> fastpath.FastScorer:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    pipeline = Pipeline(
        [
            ("features", ColumnTransformer([("numbers", "passthrough", ["a", "b"])])),
            ("model", HistGradientBoostingClassifier(max_iter=20, random_state=0)),
        ]
    ).fit(frame, frame["a"] + frame["b"] > 0)
    fast = fastpath.FastScorer(pipeline)
    assert fastpath.parity(fast, pipeline, frame) <= fastpath.TOLERANCE
    return fast


def test_scoring_a_row_leaves_nothing_for_the_garbage_collector(
    scorer: fastpath.FastScorer,
) -> None:
    """Objects in reference cycles, left by every call, made the service's collector run every
    ~100 one-row requests, each pause a slow request."""
    row = [{"a": 0.5, "b": -0.25}]
    scorer.predict(row)
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        for _ in range(100):
            scorer.predict(row)
        left = len(gc.get_objects()) - before
    finally:
        gc.enable()
    assert left < 10  # a handful at most, whatever the call count


def test_treelite_is_never_handed_rows_of_another_width(scorer: fastpath.FastScorer) -> None:
    raw_scores = scorer._raw_scores
    assert raw_scores(np.zeros((3, 2))).shape[0] == 3
    with pytest.raises(ValueError, match="rows of 2 columns"):
        raw_scores(np.zeros((1, 1)))


def test_a_treelite_without_the_call_leaves_scoring_to_the_pipeline(
    scorer: fastpath.FastScorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A treelite release that moves its C binding must not stop a model from loading."""
    import treelite.core

    monkeypatch.delattr(treelite.core, "_LIB")
    with pytest.raises(fastpath.UnsupportedModelError, match="GTIL cannot be called"):
        fastpath.FastScorer(scorer._pipeline)
