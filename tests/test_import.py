"""Bringing a team's own files: `mlops data import` / `mlops data add` in a tiny DVC project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mlops.cli import app
from mlops.config import load_params
from mlops.data import datastore

PARAMS = """\
data: {table: events, time_column: at, source: null}
features: {target: {column: label}, categorical: [kind]}
split: {method: random}
train: {estimator: logistic_regression}
"""
EVENTS = """\
at,kind,code,label
2024-01-05T10:00:00Z,a,007,1
2024-01-09T10:00:00Z,"b, c",008,0
2024-02-01T00:00:00Z,a,,1
"""


def _run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _mlops(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _meta() -> dict:
    return yaml.safe_load(Path("data.dvc").read_text())["outs"][0]["meta"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty git + DVC project whose params name a main table and no data source."""
    monkeypatch.chdir(tmp_path)
    _run("git", "init", "--quiet")
    _run(sys.executable, "-m", "dvc", "init", "--quiet")
    Path("params.yaml").write_text(PARAMS)
    Path("events.csv").write_text(EVENTS)
    return tmp_path


def test_csv_rows_go_to_month_files_with_their_bytes_and_meta_follows(project: Path) -> None:
    code, output = _mlops("data", "import", "events.csv", "--table", "events")
    assert code == 0, output
    assert Path("data/events/2024-01.csv").read_text() == (
        'at,kind,code,label\n2024-01-05T10:00:00Z,a,007,1\n2024-01-09T10:00:00Z,"b, c",008,0\n'
    )
    assert _meta() == {
        "months": ["2024-01", "2024-02"],
        "tables": {"events": {"partitions": ["2024-01", "2024-02"], "rows": 3}},
    }
    assert "up to date" in _run(sys.executable, "-m", "dvc", "status", "data.dvc")

    Path("more.csv").write_text(  # one row already imported, one new month
        "at,kind,code,label\n2024-02-01T00:00:00Z,a,,1\n2024-03-02T00:00:00Z,b,009,0\n"
    )
    code, output = _mlops("data", "import", "more.csv", "--table", "events")
    assert code == 0, output
    assert len(pd.read_csv("data/events/2024-02.csv")) == 1
    assert _meta()["months"] == ["2024-01", "2024-02", "2024-03"]
    assert _meta()["tables"]["events"]["rows"] == 4


def test_parquet_values_are_written_as_text(project: Path) -> None:
    frame = pd.DataFrame(
        {
            "at": pd.to_datetime(["2024-03-01 08:00", "2024-04-01 09:30"], utc=True),
            "kind": ["a", None],
            "code": pd.array([7, None], dtype="Int64"),
            "label": [1, 0],
        }
    )
    frame.to_parquet("events.parquet", index=False)
    code, output = _mlops("data", "import", "events.parquet", "--table", "events")
    assert code == 0, output
    assert Path("data/events/2024-04.csv").read_text() == (
        "at,kind,code,label\n2024-04-01T09:30:00.000000Z,NA,NA,0\n"
    )
    assert Path("data/events/2024-03.csv").read_text().splitlines()[1] == (
        "2024-03-01T08:00:00.000000Z,a,7,1"
    )


def test_lookup_and_tables_without_time_are_kept_whole(project: Path) -> None:
    Path("kinds.csv").write_text("kind,name\na,Alpha\nb,Beta\n")
    assert _mlops("data", "import", "kinds.csv", "--table", "kinds")[0] == 0
    assert _mlops("data", "import", "events.csv", "--table", "history", "--lookup")[0] == 0
    assert sorted(p.relative_to("data").as_posix() for p in Path("data").rglob("*.csv")) == [
        "history/history.csv",
        "kinds/kinds.csv",
    ]
    assert _meta() == {
        "months": [],
        "tables": {
            "history": {"partitions": ["history"], "rows": 3},
            "kinds": {"partitions": ["kinds"], "rows": 2},
        },
    }


def test_data_add_derives_meta_from_the_folder(project: Path) -> None:
    assert _mlops("data", "import", "events.csv", "--table", "events")[0] == 0
    Path("data/events/2024-01.csv").unlink()
    _run(sys.executable, "-m", "dvc", "add", "--quiet", "data")  # by hand: meta not updated
    code, output = _mlops("data", "add")
    assert code == 0, output
    assert _meta() == {
        "months": ["2024-02"],
        "tables": {"events": {"partitions": ["2024-02"], "rows": 1}},
    }


def test_without_source_or_remote_data_pull_says_what_to_do(project: Path) -> None:
    assert _mlops("data", "import", "events.csv", "--table", "events")[0] == 0
    remote = project / "empty-remote"
    _run(sys.executable, "-m", "dvc", "remote", "add", "--quiet", "-d", "store", str(remote))
    _run("rm", "-rf", "data", ".dvc/cache")  # a fresh clone: data.dvc, but no data anywhere
    code, output = _mlops("data", "pull")
    assert code == 1
    for fragment in ["data.source is null", "'store'", str(remote), "dvc push", "dvc remote add"]:
        assert fragment in output.replace("\n", "")

    code, output = _mlops("data", "import", "events.csv", "--table", "events")
    assert code == 1
    assert "mlops data pull" in output.replace("\n", "")

    for command in (["add-month", "2024-05"], ["create"]):
        code, output = _mlops("data", *command)
        assert code == 1
        assert "mlops data import" in output.replace("\n", "")


def test_production_rows_without_a_time_column_go_by_month_served(project: Path) -> None:
    Path("params.yaml").write_text(PARAMS.replace("time_column: at", "time_column: null"))
    assert _mlops("data", "import", "events.csv", "--table", "events")[0] == 0
    rows = pd.DataFrame(
        {
            "kind": ["a", "b"],
            "label": [1, 0],
            "request_id": ["r1", "r2"],
            "row": [0, 0],
            "model_version": ["v1", "v1"],
            "served_at": pd.to_datetime(["2024-05-31T23:00:00Z", "2024-06-01T01:00:00Z"]),
        }
    )
    batch = {"log": "logs/", "rows": 2}
    datastore.add_production(load_params(Path("params.yaml")), rows, batch)
    assert sorted(p.name for p in Path("data/production").iterdir()) == [
        "2024-05.csv",
        "2024-06.csv",
    ]
    assert _meta()["production"] == [batch]
    assert _meta()["tables"]["production"] == {"partitions": ["2024-05", "2024-06"], "rows": 2}
