"""The fast path equals the pipeline, or it stays off and the pipeline answers."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from mlops import artifact
from mlops.columns import LABEL
from mlops.config import Params
from mlops.data import featurize
from mlops.serving import fastpath, servable
from project.model import build_model


def as_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


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
    assert scorer.predict(as_records(one))[0] == pytest.approx(
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
    assert np.array_equal(
        served.predict(as_records(holdout.head(20))),
        pipeline.predict_proba(holdout.head(20))[:, 1],
    )


def test_both_routes_equal_the_pipeline_and_nothing_is_written_to_the_model_folder(
    trained_project: Path, holdout: pd.DataFrame
) -> None:
    folder = trained_project / "model"
    files, digest = sorted(folder.iterdir()), artifact.digest(folder)
    served = servable.load(servable.FolderSource(folder))
    assert served.fast is not None
    assert sorted(folder.iterdir()) == files
    assert artifact.digest(folder) == digest == served.sha256
    pipeline = served.artifact.pipeline
    few, many = holdout.head(fastpath.TREELITE_MAX_ROWS), holdout.head(1000)
    for frame in (few, many):  # treelite's walk, then the estimator's predict_proba
        fast = served.fast.predict(as_records(frame))
        assert np.abs(fast - pipeline.predict_proba(frame)[:, 1]).max() <= 1e-12
    copy = pickle.loads(pickle.dumps(served.fast))  # the treelite model is built again
    assert np.array_equal(copy.predict(as_records(few)), served.fast.predict(as_records(few)))


def test_a_category_the_trees_never_saw_goes_the_way_of_missing_values(
    trained_project: Path, params: Params, holdout: pd.DataFrame
) -> None:
    """The encoder knows a category the trees were not trained on (say, one that subsampling
    left out): scikit-learn sends it where missing values go, treelite would send it right."""
    first = artifact.load(trained_project / "model")
    features = first.metadata["features"]
    train = servable.model_inputs(
        pd.read_parquet(trained_project / featurize.part_path("train")), features
    )
    labels = pd.read_parquet(trained_project / featurize.part_path("train"))[LABEL]
    column = features["categorical"][0]
    left_out = train[column].value_counts().index[1]  # frequent: many trees split on it
    pipeline = build_model(params.train, params.features, {"max_iter": 20})
    kept = (train[column] != left_out).to_numpy()
    with threadpool_limits(1):
        pipeline[0].fit(train)
        pipeline[-1].fit(pipeline[0].transform(train[kept]), labels[kept])
    rows = holdout.head(200).assign(**{column: left_out})
    scorer = fastpath.FastScorer(pipeline)
    assert np.isnan(scorer.encode(as_records(rows.head(1)))[0, 0])
    assert fastpath.parity(scorer, pipeline, rows) <= 1e-12
    assert fastpath.parity(scorer, pipeline, holdout.head(500)) <= 1e-12


def test_a_model_treelite_cannot_import_is_scored_by_the_pipeline(
    trained_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import treelite.sklearn

    def refuse(_: object) -> None:
        raise treelite.TreeliteError("not this model")

    monkeypatch.setattr(treelite.sklearn, "import_model", refuse)
    with pytest.raises(fastpath.UnsupportedModelError, match="treelite"):
        fastpath.FastScorer(artifact.load(trained_project / "model").pipeline)
    assert servable.load(servable.FolderSource(trained_project / "model")).fast is None
