"""``mlops batch-score``: pandas and a two-worker Dask cluster give the same rows."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops import artifact
from mlops.data import featurize
from mlops.errors import MlopsError
from mlops.serving import batch, servable
from tests.conftest import run
from tests.serving import MLOPS

# Dask warns of a task graph larger than this: far above a graph of file references, far below
# the model (checked below), so a model copied into every task would show.
GRAPH_LIMIT = 256_000


@pytest.fixture(scope="module")
def scored(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The holdout as CSV and Parquet (row groups of 1,000 rows), scored by pandas and by a
    local cluster; the cluster runs fail on Dask's large-graph warning above ``GRAPH_LIMIT``."""
    folder = tmp_path_factory.mktemp("batch")
    holdout = pd.read_parquet(trained_project / featurize.part_path("holdout"))
    holdout.to_csv(folder / "rows.csv", index=False)
    holdout.to_parquet(folder / "rows.parquet", index=False, row_group_size=1000)
    outputs = {}
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("DASK_DISTRIBUTED__ADMIN__LARGE_GRAPH_WARNING_THRESHOLD", str(GRAPH_LIMIT))
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
        assert "Sending large graph" not in result.stderr
        outputs[name] = output
    monkeypatch.undo()
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


def test_the_model_would_trip_the_graph_limit(trained_project: Path) -> None:
    """What the cluster runs prove: the model is not copied into the tasks (it is larger)."""
    assert len(pickle.dumps(batch.Scorer.load(trained_project / "model"))) > GRAPH_LIMIT


def test_parquet_partitions_merge_small_row_groups_and_split_large_ones(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": np.arange(850), "b": [f"x{i}" for i in range(850)]})
    path = tmp_path / "rows.parquet"
    with pq.ParquetWriter(path, pa.Schema.from_pandas(frame, preserve_index=False)) as writer:
        start = 0
        for size in (100, 100, 100, 500, 50):
            part = frame.iloc[start : start + size]
            writer.write_table(pa.Table.from_pandas(part, preserve_index=False))
            start += size
    pieces, total = batch.plan(path, 250, [])
    assert total == 850
    assert [(piece.row_groups, piece.rows) for piece in pieces] == [
        ((0, 1), 200),
        ((2,), 100),
        ((3,), 250),
        ((3,), 250),
        ((4,), 50),
    ]
    read = [piece.read() for piece in pieces]
    assert [len(part) for part in read] == [piece.rows for piece in pieces]
    pd.testing.assert_frame_equal(pd.concat(read, ignore_index=True), frame)


def test_csv_partitions_hold_every_row_once(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": np.arange(1000), "carrier": ["007", "UA"] * 500})
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    pieces, total = batch.plan(path, 64, ["carrier"])
    assert total is None
    assert len(pieces) > 10
    read = pd.concat([piece.read() for piece in pieces], ignore_index=True)
    pd.testing.assert_frame_equal(read, frame.astype({"carrier": "str"}))


def test_a_csv_value_quoted_across_lines_is_refused_on_a_cluster(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    pd.DataFrame({"a": range(100), "note": ["one\ntwo"] * 100}).to_csv(path, index=False)
    pieces, _ = batch.plan(path, 10, [])
    with pytest.raises(MlopsError, match="quoted value spans lines"):
        [piece.read() for piece in pieces]
