"""The model file: only trusted types load, and the same model always has the same bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from mlops import artifact


def _fitted_tree() -> Pipeline:
    rng = np.random.default_rng(0)
    return Pipeline([("estimator", DecisionTreeClassifier(random_state=0))]).fit(
        rng.normal(size=(200, 3)), rng.integers(0, 2, 200)
    )


def test_a_type_outside_the_trusted_list_is_refused(tmp_path: Path) -> None:
    artifact.save(tmp_path, _fitted_tree(), {"threshold": 0.5}, {})
    with pytest.raises(
        artifact.UntrustedModelError, match=r"not trusted: \[.sklearn.tree._tree.Tree.\]"
    ):
        artifact.load(tmp_path)


def test_equal_models_are_equal_bytes(tmp_path: Path) -> None:
    artifact.save(tmp_path / "a", _fitted_tree(), {"threshold": 0.5}, {})
    artifact.save(tmp_path / "b", _fitted_tree(), {"threshold": 0.5}, {})
    first, second = (tmp_path / name / artifact.MODEL_FILE for name in ("a", "b"))
    assert first.read_bytes() == second.read_bytes()
