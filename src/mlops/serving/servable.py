"""A model ready to serve: found by its source, hash-checked, loaded, with its fastest exact scorer.

``ModelSource`` is the seam for where a model comes from: ``FolderSource`` serves a folder as
it is; ``RegistrySource`` fetches a registered version, or whichever version holds a stage when
the model is (re)loaded, so a reload after a promotion serves the new production model.
"""

from __future__ import annotations

import hmac
import logging
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mlops import artifact
from mlops.artifact import ModelArtifact
from mlops.columns import model_inputs as typed_inputs
from mlops.errors import MlopsError
from mlops.serving import fastpath
from mlops.task import Predictions, predict

log = logging.getLogger(__name__)
PARITY_ROWS = 2000


class ModelLoadError(MlopsError):
    """The model folder is damaged: an unreadable archive, a broken metadata or profile file."""


class ModelHashError(MlopsError):
    """The model file is not the one the deployment pinned."""


@dataclass(frozen=True)
class ModelLocation:
    """Where a model's files are, and the name and version it is served under."""

    folder: Path
    name: str
    version: str | None  # None: the first 12 hex digits of the model folder's sha256


class ModelSource(Protocol):
    def resolve(self) -> ModelLocation:
        """Find the model's folder now (a registry source may point somewhere new on reload)."""
        ...


@dataclass(frozen=True)
class FolderSource:
    folder: Path
    name: str | None = None
    version: str | None = None

    def resolve(self) -> ModelLocation:
        return ModelLocation(self.folder, self.name or self.folder.resolve().name, self.version)


@dataclass(frozen=True)
class ServedModel:
    """One loaded model; the service swaps whole instances, so a request sees one model."""

    name: str
    version: str
    sha256: str
    artifact: ModelArtifact
    fast: fastpath.FastScorer | None
    parity: float | None  # largest |difference| the fast path showed against the pipeline
    # Features that were missing in some training rows (a lookup found nothing, say): requests
    # may leave them null too, whatever the raw table's contract says.
    missing_in_training: frozenset[str] = frozenset()

    @property
    def features(self) -> dict[str, list[str]]:
        return self.artifact.metadata["features"]

    @property
    def feature_names(self) -> list[str]:
        return [*self.features["categorical"], *self.features["numeric"]]

    @property
    def input_types(self) -> dict[str, str]:
        """Each input's type in requests, as the contract declared it at training."""
        return dict(self.artifact.metadata.get("input_types", {}))

    @property
    def context(self) -> dict[str, str]:
        """Columns requests may carry beside the inputs (slices), collected, never scored."""
        return dict(self.artifact.metadata.get("context", {}))

    @property
    def interface(self) -> tuple[Any, ...]:
        """What requests and answers look like: a model with another is another service."""
        model = self.artifact
        return (self.features, self.input_types, self.context, model.task, model.classes)

    def predict(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The model's predictions of validated records, in its task's form (``task.predict``)."""
        if self.fast is not None:
            return self.fast.predict(records)
        frame = pd.DataFrame.from_records(list(records), columns=self.feature_names)
        model = self.artifact
        return predict(model.task, model.pipeline, model_inputs(frame, self.features))

    def predictions(self, records: Sequence[Mapping[str, Any]]) -> Predictions:
        """``predict`` with what reading it needs (threshold, classes)."""
        model = self.artifact
        return Predictions(model.task, self.predict(records), model.threshold, model.classes)


def model_inputs(frame: pd.DataFrame, features: Mapping[str, list[str]]) -> pd.DataFrame:
    """The model's input columns with its dtypes, from its metadata's feature lists."""
    return typed_inputs(frame, features["categorical"], features["numeric"])


def load(
    source: ModelSource, expected_sha256: str | None = None, parity_data: Path | None = None
) -> ServedModel:
    """Load and check a model; the fast path is on only if it matches the pipeline on
    synthetic rows from the reference profile (and on ``parity_data`` rows when given)."""
    location = source.resolve()
    digest = artifact.digest(location.folder)
    if expected_sha256 is not None and not hmac.compare_digest(digest, expected_sha256.lower()):
        raise ModelHashError(
            f"the model folder {location.folder} has sha256 {digest}, expected {expected_sha256}"
        )
    try:
        loaded = artifact.load(location.folder)
        profile = artifact.reference(location.folder)
        fast, difference = _fast_path(loaded, profile, parity_data)
        missing = frozenset(name for name, doc in profile["features"].items() if doc["missing"])
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        # A damaged folder is refused as a whole: a running service keeps its old model.
        raise ModelLoadError(f"cannot load the model in {location.folder}: {error!r}") from None
    return ServedModel(
        name=location.name,
        version=location.version or digest[:12],
        sha256=digest,
        artifact=loaded,
        fast=fast,
        parity=difference,
        missing_in_training=missing,
    )


def _fast_path(
    loaded: ModelArtifact, profile: dict[str, Any], parity_data: Path | None
) -> tuple[fastpath.FastScorer | None, float | None]:
    try:
        scorer = fastpath.FastScorer(loaded.pipeline, loaded.task)
    except fastpath.UnsupportedModelError as reason:
        log.info("fast path off: %s", reason)
        return None, None
    features = loaded.metadata["features"]
    synthetic = fastpath.reference_rows(profile, PARITY_ROWS)
    rows = [model_inputs(synthetic, features)]
    if parity_data is not None:
        rows.append(model_inputs(pd.read_parquet(parity_data).head(PARITY_ROWS), features))
    started = time.perf_counter()
    difference = max(fastpath.parity(scorer, loaded.pipeline, frame) for frame in rows)
    on = difference <= fastpath.TOLERANCE
    log.info(
        "fast path %s: largest difference %.3g on parity rows (%.2f s)",
        "on" if on else "off",
        difference,
        time.perf_counter() - started,
    )
    return (scorer if on else None), difference
