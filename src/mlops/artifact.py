"""The model artifact: a folder with the pipeline (skops), its metadata and reference profile.

skops files load only the types listed here, unlike pickle, which runs whatever code a file
names. The archive is rewritten with fixed timestamps so the same model has the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json

from mlops.errors import MlopsError
from mlops.tables import write_atomically, write_json
from mlops.task import Predictions, Task, predict

if TYPE_CHECKING:  # loading a model needs skops and scikit-learn; reading its files does not
    import pandas as pd
    from sklearn.pipeline import Pipeline

MODEL_FILE = "model.skops"
METADATA_FILE = "model.json"
REFERENCE_FILE = "reference.json"
SCHEMA_ENTRY = "schema.json"
_OBJECT_ID = re.compile(r'"__id__": ([0-9]+)|"([0-9]+)\.npy"')

# The scikit-learn types a model file may contain (skops trusts only builtins, numpy and its own
# list of losses and links besides; see _skops_io). A type outside this list makes loading
# fail: extend it deliberately when model.py starts using a new estimator or transformer.
TRUSTED_TYPES = [
    "functools.partial",  # wraps only functions listed here: skops checks the wrapped one too
    "numpy.dtype",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.impute._base.MissingIndicator",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._ridge.Ridge",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",  # passthrough columns
    "sklearn.preprocessing._label.LabelEncoder",  # a classifier's classes
    "sklearn.utils.validation.check_array",
]


class UntrustedModelError(MlopsError):
    """A model file holds a type that is not in ``TRUSTED_TYPES``."""


_SKOPS_IMPORT = threading.Lock()


def _skops_io() -> ModuleType:
    """skops.io, trusting no scikit-learn estimator that ``TRUSTED_TYPES`` does not name.

    At import, skops trusts every estimator ``sklearn.utils.all_estimators()`` finds, and the
    search imports all of scikit-learn: 0.4 s of CPU beyond what a model needs, in each command
    that saves or loads one. Imported from here first, skops skips the search; whoever imported
    it, its blanket trust is emptied, so ``TRUSTED_TYPES`` is the whole list of estimators a
    model may hold.
    """
    import sklearn.utils

    with _SKOPS_IMPORT:
        if "skops.io" not in sys.modules:
            search = sklearn.utils.all_estimators
            sklearn.utils.all_estimators = lambda: []
            try:
                import skops.io  # noqa: F401  (in sys.modules below)
            finally:
                sklearn.utils.all_estimators = search
        from skops.io import _trusted_types

        _trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES.clear()
    return sys.modules["skops.io"]


@dataclass(frozen=True)
class ModelArtifact:
    pipeline: Pipeline
    metadata: dict[str, Any]

    @property
    def task(self) -> Task:
        return Task(self.metadata.get("task", Task.BINARY))  # models before tasks: binary

    @property
    def threshold(self) -> float | None:
        """A binary model's decision threshold; None for other tasks."""
        value = self.metadata.get("threshold")
        return None if value is None else float(value)

    @property
    def classes(self) -> tuple[str, ...]:
        """A multiclass model's classes, in the order of its probability columns."""
        return tuple(self.metadata.get("classes", ()))

    def predictions(self, inputs: pd.DataFrame) -> Predictions:
        """The model's predictions of ``inputs`` (``inputs(frame)``), in its task's form."""
        values = predict(self.task, self.pipeline, inputs)
        return Predictions(self.task, values, self.threshold, self.classes)

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The columns this model was trained on, typed as it expects: older models keep
        working after ``params.yaml`` changes its feature lists."""
        from mlops import columns

        names = self.metadata["features"]
        return columns.model_inputs(frame, names["categorical"], names["numeric"])


def _canonical_zip(source: Path, target: Path) -> None:
    """Rewrite a skops archive so equal models give equal bytes.

    skops numbers objects and names array files by their ``id()`` in memory and stamps entries
    with the current time; here ids are renumbered by first mention and the time is fixed.
    """
    with zipfile.ZipFile(source) as old:
        schema = old.read(SCHEMA_ENTRY).decode("utf-8")
        ids: dict[str, str] = {}
        for match in _OBJECT_ID.finditer(schema):
            ids.setdefault(match[1] or match[2], str(len(ids)))

        def renumber(match: re.Match[str]) -> str:
            number = match[1] or match[2]
            return match[0].replace(number, ids[number])

        entries = {SCHEMA_ENTRY: _OBJECT_ID.sub(renumber, schema).encode("utf-8")}
        for info in old.infolist():
            if info.filename != SCHEMA_ENTRY:
                stem = info.filename.removesuffix(".npy")
                entries[f"{ids[stem]}.npy" if stem in ids else info.filename] = old.read(info)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as new:
        for name in sorted(entries):
            new.writestr(
                zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)),
                entries[name],
                compress_type=zipfile.ZIP_DEFLATED,
            )


def _forget_core_count(pipeline: Pipeline) -> None:
    """Drop the training machine's thread count that HistGradientBoosting keeps in its bin
    mapper: saved, the same model had other bytes on a machine with other cores, so a pull
    request's dvc.lock never matched CI's reproduction. Unset (on the pipeline itself), binning
    uses the cores of the machine that scores, as it would for a model fitted there."""
    for step in pipeline.named_steps.values():
        mapper = getattr(step, "_bin_mapper", None)
        if mapper is not None:
            mapper.n_threads = None


def save(
    folder: Path, pipeline: Pipeline, metadata: dict[str, Any], reference: dict[str, Any]
) -> None:
    """Write the artifact folder; equal models give equal bytes."""
    sio = _skops_io()
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / f".{MODEL_FILE}.raw"
    _forget_core_count(pipeline)
    sio.dump(pipeline, raw)
    try:
        write_atomically(folder / MODEL_FILE, lambda tmp: _canonical_zip(raw, tmp))
    finally:
        raw.unlink(missing_ok=True)
    write_json(folder / METADATA_FILE, metadata, sort_keys=True)
    write_json(folder / REFERENCE_FILE, reference, sort_keys=True)


def load(folder: Path) -> ModelArtifact:
    """Load the pipeline, refusing any type outside ``TRUSTED_TYPES``."""
    sio = _skops_io()
    path = folder / MODEL_FILE
    untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if untrusted:
        raise UntrustedModelError(f"{path} holds types that are not trusted: {untrusted}")
    pipeline = sio.load(path, trusted=TRUSTED_TYPES)
    for step in pipeline.named_steps.values():
        if hasattr(step, "_predictors"):
            check_trees(step, path)
    return ModelArtifact(pipeline, metadata(folder))


def check_trees(estimator: Any, path: Path) -> None:
    """Refuse tree arrays that are not trees before anything walks them.

    skops trusts ``TreePredictor`` only by type; scikit-learn walks its node arrays without
    bounds checks, so a crafted child index crashes the process and a node that is its own
    child loops forever. Trees are stored in pre-order: each child comes after its parent, and
    every node but the root has exactly one parent; features and category bitsets are in range.
    """
    import numpy as np

    features = int(estimator.n_features_in_)
    for iteration, predictors in enumerate(estimator._predictors):
        for number, predictor in enumerate(predictors):
            nodes = predictor.nodes
            count = len(nodes)
            inner = np.flatnonzero(~nodes["is_leaf"].astype(bool))
            left = nodes["left"][inner].astype(np.int64)
            right = nodes["right"][inner].astype(np.int64)
            parents = np.bincount(np.concatenate([left, right]).clip(0, count), minlength=count + 1)
            categorical = inner[nodes["is_categorical"][inner].astype(bool)]
            problems = {
                "a child index out of range or not after its parent": bool(
                    ((left <= inner) | (right <= inner) | (left >= count) | (right >= count)).any()
                ),
                "a node with no parent or two": bool(parents[0] or (parents[1:count] != 1).any()),
                "a feature index out of range": bool(
                    (nodes["feature_idx"][inner].astype(np.int64) >= features).any()
                ),
                "a category bitset out of range": bool(
                    (nodes["bitset_idx"][categorical] >= len(predictor.raw_left_cat_bitsets)).any()
                ),
            }
            found = [problem for problem, present in problems.items() if present]
            if found:
                raise UntrustedModelError(
                    f"{path}: tree {number} of iteration {iteration} is not a tree: "
                    f"{', '.join(found)}"
                )


def metadata(folder: Path) -> dict[str, Any]:
    """The model's metadata (features, threshold, training window) without loading it."""
    return json.loads((folder / METADATA_FILE).read_text())


def sha256(path: Path) -> str:
    """The file's SHA-256."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def digest(folder: Path) -> str:
    """The SHA-256 of the model folder's manifest (every file's name and SHA-256): what names a
    served model, what registration records and what deployments pin. Changing any file —
    the threshold in ``model.json``, the profile — changes it, not only the pipeline's bytes."""
    files = sorted(
        path for path in folder.rglob("*") if path.is_file() and not path.name.startswith(".")
    )
    manifest = "".join(f"{path.relative_to(folder).as_posix()}\0{sha256(path)}\n" for path in files)
    return hashlib.sha256(manifest.encode("utf-8")).hexdigest()


def reference(folder: Path) -> dict[str, Any]:
    """The reference profile: every distinct training value of each column, megabytes of JSON.
    pydantic-core's parser reads it in a quarter of ``json.loads``' time, to the same values."""
    profile: dict[str, Any] = from_json((folder / REFERENCE_FILE).read_bytes())
    return profile
