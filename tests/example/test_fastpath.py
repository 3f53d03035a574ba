"""The fast path equals the pipeline, or it stays off and the pipeline answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from mlops import artifact, fastpath, featurize, servable
from mlops.config import Params
from mlops.features import LABEL
from mlops.model import build_model


@pytest.fixture(scope="module")
def holdout(trained_project: Path) -> pd.DataFrame:
    model = artifact.load(trained_project / "model")
    frame = pd.read_parquet(trained_project / featurize.part_path("holdout"))
    return servable.model_inputs(frame, model.metadata["features"])


def test_fast_path_equals_the_pipeline_on_holdout_and_edge_rows(
    trained_project: Path, holdout: pd.DataFrame
) -> None:
    model = artifact.load(trained_project / "model")
    scorer = fastpath.FastScorer(model.pipeline)
    edges = servable.model_inputs(
        fastpath.reference_rows(artifact.reference(trained_project / "model"), 500),
        model.metadata["features"],
    )
    assert edges.isna().any().all()  # every column has missing values among the edge rows
    for frame in (holdout, edges):
        assert fastpath.parity(scorer, model.pipeline, frame) <= fastpath.TOLERANCE
    one = holdout.iloc[[3]]
    record = one.astype(object).where(one.notna(), None).to_dict("records")
    assert scorer.probabilities(record)[0] == pytest.approx(
        model.pipeline.predict_proba(one)[0, 1], abs=1e-12
    )


def test_the_service_model_uses_the_fast_path_only_after_parity(
    trained_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = servable.FolderSource(trained_project / "model")
    checked = servable.load(source)
    assert checked.fast is not None
    assert checked.parity is not None
    assert checked.parity <= fastpath.TOLERANCE
    monkeypatch.setattr(fastpath, "TOLERANCE", -1.0)  # no difference is small enough
    refused = servable.load(source)
    assert refused.fast is None


def test_other_pipelines_are_scored_by_the_pipeline(
    trained_project: Path, params: Params, holdout: pd.DataFrame, tmp_path: Path
) -> None:
    first = artifact.load(trained_project / "model")
    train = pd.read_parquet(trained_project / featurize.part_path("train"))
    settings = params.train.model_copy(update={"estimator": "logistic_regression"})
    with threadpool_limits(1):
        pipeline = build_model(settings, params.features).fit(
            servable.model_inputs(train, first.metadata["features"]), train[LABEL]
        )
    with pytest.raises(fastpath.UnsupportedModelError):
        fastpath.FastScorer(pipeline)
    artifact.save(
        tmp_path / "model", pipeline, first.metadata, artifact.reference(trained_project / "model")
    )
    served = servable.load(servable.FolderSource(tmp_path / "model"))
    assert served.fast is None
    records = holdout.head(20).astype(object).where(holdout.head(20).notna(), None)
    assert np.array_equal(
        served.probabilities(records.to_dict("records")),
        pipeline.predict_proba(holdout.head(20))[:, 1],
    )
