"""The model file: only trusted types load, and the same model always has the same bytes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from mlops import artifact
from tests.conftest import run


def _fitted(estimator: Any) -> Pipeline:
    """``estimator`` in a pipeline, fitted on fixed random rows."""
    rng = np.random.default_rng(0)
    return Pipeline([("estimator", estimator)]).fit(
        rng.normal(size=(200, 3)), rng.integers(0, 2, 200)
    )


def _fitted_tree() -> Pipeline:
    return _fitted(DecisionTreeClassifier(random_state=0))


def _fitted_boosting() -> Pipeline:
    return _fitted(HistGradientBoostingClassifier(max_iter=5, random_state=0))


def test_a_type_outside_the_trusted_list_is_refused(tmp_path: Path) -> None:
    """A scikit-learn estimator too: skops would trust every one of them by default."""
    artifact.save(tmp_path, _fitted_tree(), {"threshold": 0.5}, {})
    untrusted = r"\['sklearn.tree._classes.DecisionTreeClassifier', 'sklearn.tree._tree.Tree'\]"
    with pytest.raises(artifact.UntrustedModelError, match=f"not trusted: {untrusted}"):
        artifact.load(tmp_path)


IMPORTED_FIRST = """
import sys
from pathlib import Path
import skops.io
from mlops import artifact
try:
    artifact.load(Path(sys.argv[1]))
except artifact.UntrustedModelError as error:
    print(error)
"""


def test_the_estimators_skops_trusts_by_default_are_refused_whoever_imported_it(
    tmp_path: Path,
) -> None:
    artifact.save(tmp_path, _fitted_tree(), {"threshold": 0.5}, {})
    refused = run(sys.executable, "-c", IMPORTED_FIRST, str(tmp_path), cwd=tmp_path).stdout
    assert "'sklearn.tree._classes.DecisionTreeClassifier'" in refused


def test_equal_models_are_equal_bytes(tmp_path: Path) -> None:
    artifact.save(tmp_path / "a", _fitted_tree(), {"threshold": 0.5}, {})
    artifact.save(tmp_path / "b", _fitted_tree(), {"threshold": 0.5}, {})
    first, second = (tmp_path / name / artifact.MODEL_FILE for name in ("a", "b"))
    assert first.read_bytes() == second.read_bytes()


def test_a_model_fitted_on_other_cores_has_the_same_bytes(tmp_path: Path) -> None:
    """HistGradientBoosting records how many threads it trained with (the machine's cores)."""
    for cores in (2, 16):
        pipeline = _fitted_boosting()
        pipeline[-1]._bin_mapper.n_threads = cores  # as a fit on a machine with these cores
        artifact.save(tmp_path / str(cores), pipeline, {"threshold": 0.5}, {})
    first, second = (tmp_path / name / artifact.MODEL_FILE for name in ("2", "16"))
    assert first.read_bytes() == second.read_bytes()


LOADED = """
import sys
from pathlib import Path
from mlops import artifact
artifact.load(Path(sys.argv[1]))
unused = ("sklearn.gaussian_process", "sklearn.mixture", "sklearn.neural_network")
print(sorted(name for name in unused if name in sys.modules))
"""


def test_loading_a_model_imports_only_what_it_holds(tmp_path: Path) -> None:
    """Not all of scikit-learn, as skops' default trust list would (0.4 s of every command
    that saves or loads a model)."""
    artifact.save(tmp_path, _fitted_boosting(), {"threshold": 0.5}, {})
    assert run(sys.executable, "-c", LOADED, str(tmp_path), cwd=tmp_path).stdout.strip() == "[]"
