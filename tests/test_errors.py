"""Bad files and settings fail with an error naming the file, column or setting, not a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops.config import Params
from mlops.data import validate
from mlops.data.data_import import DataImportError, import_files
from mlops.pipeline.metrics import SliceColumnError, by_slice
from mlops.schema import SchemaViolationError
from mlops.tables import RawFileError, read_csv
from mlops.task import Predictions, Task

SCHEMA = """\
tables:
  events:
    columns:
      at: {dtype: datetime}
      kind: {dtype: str}
      wind: {dtype: float64, nullable: true}
      label: {dtype: int64}
"""
HEADER = "at,kind,wind,label\n"


@pytest.fixture
def params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Params:
    monkeypatch.chdir(tmp_path)
    Path("schema.yaml").write_text(SCHEMA)
    return Params.model_validate(
        {
            "data": {"dir": str(tmp_path / "data"), "table": "events", "time_column": "at"},
            "features": {"target": {"column": "label"}, "categorical": ["kind"]},
            "split": {"method": "random"},
            "train": {"estimator": "logistic_regression"},
        }
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"\n  \n", "empty", id="blank"),
        pytest.param(b"PAR1\x00\x15\x04", "binary", id="binary"),
        pytest.param(b"at,kind\n2024-01-01,caf\xe9\n", "not UTF-8", id="latin-1"),
        pytest.param(b"at,kind\n", "no rows", id="header-only"),
    ],
)
def test_unreadable_raw_files_are_named(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "2024-01.csv"
    path.write_bytes(content)
    with pytest.raises(RawFileError, match=expected) as raised:
        read_csv(path)
    assert str(path) in str(raised.value)


def test_import_names_the_file_column_and_values_that_are_not_times(params: Params) -> None:
    path = Path("events.csv")
    path.write_text(HEADER + "2024-01-01T00:00:00Z,a,1.5,1\nyesterday,b,2.5,0\n,c,3.5,1\n")
    with pytest.raises(DataImportError) as raised:
        import_files(params, [path], "events")
    for fragment in ["events.csv", "'at'", "2 values", "yesterday", "(missing)"]:
        assert fragment in str(raised.value)
    assert not params.data.dir.exists()


@pytest.mark.parametrize(
    "content", [b"", HEADER.encode(), b"\x89PNG\r\n\x1a\n\x00"], ids=["empty", "header", "binary"]
)
def test_import_refuses_files_without_rows_by_name(params: Params, content: bytes) -> None:
    Path("events.csv").write_bytes(content)
    Path("events.parquet").write_bytes(content)
    for name in ("events.csv", "events.parquet"):
        with pytest.raises(RawFileError, match=name):
            import_files(params, [Path(name)], "events")


def _month(params: Params, month: str, rows: str) -> None:
    path = params.data.dir / "events" / f"{month}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + rows)


def test_a_month_file_with_only_a_header_is_reported(params: Params) -> None:
    _month(params, "2024-01", "2024-01-01T00:00:00Z,a,1.5,1\n")
    _month(params, "2024-02", "")
    with pytest.raises(SchemaViolationError, match=r"2024-02\.csv: no rows"):
        validate.run(params, Path("schema.yaml"))


def test_a_column_recorded_from_mid_year_passes_but_one_never_recorded_fails(
    params: Params,
) -> None:
    _month(params, "2024-01", "2024-01-01T00:00:00Z,a,NA,1\n2024-01-02T00:00:00Z,b,NA,0\n")
    _month(params, "2024-02", "2024-02-01T00:00:00Z,a,,1\n2024-02-02T00:00:00Z,b,2.5,0\n")
    report = validate.run(params, Path("schema.yaml"))
    assert report["tables"]["events"]["missing"]["wind"] == 3

    _month(params, "2024-02", "2024-02-01T00:00:00Z,a,,1\n2024-02-02T00:00:00Z,b,NA,0\n")
    with pytest.raises(SchemaViolationError) as raised:
        validate.run(params, Path("schema.yaml"))
    assert "table 'events'" in str(raised.value)
    assert "['wind']" in str(raised.value)
    assert "entirely null" in str(raised.value)


def _scored(rows: int) -> tuple[np.ndarray, Predictions]:
    labels = np.arange(rows) % 2
    return labels, Predictions(Task.BINARY, np.linspace(0.1, 0.9, rows), 0.5)


def test_missing_slice_values_form_their_own_slice() -> None:
    frame = pd.DataFrame({"origin": ["JFK", None, "EWR", "JFK", np.nan, "EWR"]})
    labels, scores = _scored(len(frame))
    slices = by_slice(frame, labels, scores, ["origin"], min_rows=2)
    assert list(slices["origin"]) == ["(missing)", "EWR", "JFK"]
    assert slices["origin"]["(missing)"]["rows"] == 2


def test_a_slice_column_not_in_the_frame_is_named_with_the_columns_there() -> None:
    frame = pd.DataFrame({"shop": ["north", "south"], "region": ["a", "b"]})
    labels, scores = _scored(len(frame))
    with pytest.raises(SliceColumnError) as raised:
        by_slice(frame, labels, scores, ["shop", "airline"], min_rows=1)
    message = str(raised.value)
    assert "['airline']" in message
    assert "evaluate.slices" in message
    assert "['region', 'shop']" in message
