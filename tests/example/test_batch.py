"""``mlops batch-score``: pandas and a two-worker Dask cluster give the same rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops import artifact, featurize, servable
from tests.conftest import run
from tests.serving import MLOPS


@pytest.fixture(scope="module")
def scored(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The holdout as CSV and Parquet, scored by pandas and by a local cluster."""
    folder = tmp_path_factory.mktemp("batch")
    holdout = pd.read_parquet(trained_project / featurize.part_path("holdout"))
    holdout.to_csv(folder / "rows.csv", index=False)
    holdout.to_parquet(folder / "rows.parquet", index=False)
    outputs = {}
    for name, source, options in [
        ("pandas", "rows.parquet", []),
        ("pandas-csv", "rows.csv", []),
        ("dask", "rows.parquet", ["--local-cluster", "2", "--partition-rows", "150"]),
        ("dask-csv", "rows.csv", ["--local-cluster", "2", "--partition-rows", "150"]),
    ]:
        output = folder / f"{name}.parquet"
        result = run(
            MLOPS,
            "batch-score",
            str(folder / source),
            str(output),
            "--model",
            str(trained_project / "model"),
            *options,
            cwd=folder,
        )
        assert json.loads(result.stdout)["rows"] == len(holdout)
        outputs[name] = output
    return outputs


def test_pandas_scores_equal_the_pipeline(scored: dict[str, Path], trained_project: Path) -> None:
    model = artifact.load(trained_project / "model")
    frame = pd.read_parquet(scored["pandas"])
    inputs = servable.model_inputs(frame, model.metadata["features"])
    expected = model.pipeline.predict_proba(inputs)[:, 1]
    assert np.array_equal(frame["predicted_probability"].to_numpy(), expected)
    assert (frame["predicted_label"] == (expected >= model.threshold)).all()
    digest = artifact.digest(trained_project / "model")
    assert set(frame["model_version"]) == {digest[:12]}


@pytest.mark.parametrize(("cluster", "single"), [("dask", "pandas"), ("dask-csv", "pandas-csv")])
def test_a_two_worker_cluster_equals_pandas_row_for_row(
    scored: dict[str, Path], cluster: str, single: str
) -> None:
    parts = sorted(scored[cluster].glob("part-*.parquet"))
    assert len(parts) > 2  # the rows were split over several tasks
    distributed = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
    pd.testing.assert_frame_equal(distributed, pd.read_parquet(scored[single]))


def test_an_unknown_file_type_is_refused(trained_project: Path, tmp_path: Path) -> None:
    (tmp_path / "rows.json").write_text("[]")
    result = run(
        MLOPS,
        "batch-score",
        str(tmp_path / "rows.json"),
        str(tmp_path / "out.parquet"),
        "--model",
        str(trained_project / "model"),
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1
    assert "expected a .csv or .parquet file" in result.stderr
