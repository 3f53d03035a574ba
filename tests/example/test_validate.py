"""The data contract: each kind of bad input is refused by name, and nothing is overwritten."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mlops import paths
from mlops.cli import app
from mlops.config import load_params
from mlops.errors import MlopsError

FLIGHTS = Path("data/flights/2013-03.csv")


def _edit(path: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


def _set(column: str, row: int, value: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return change


def _blank(column: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = ""
        return frame

    return change


def _repeat_column(path: Path) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(f"{line},{line.split(',')[15]}" for line in lines) + "\n")
    header = lines[0].split(",")
    assert header[15] == "distance"


def _validate() -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate"])
    return result.exit_code, result.output


def _previous_outputs() -> dict[Path, bytes]:
    outputs = {
        paths.CLEAN_DIR / "flights.parquet": b"previous model frame",
        paths.QUALITY_JSON: b'{"previous": true}',
    }
    for path, content in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return outputs


@pytest.mark.parametrize(
    ("break_data", "expected"),
    [
        pytest.param(
            lambda: _edit(FLIGHTS, lambda f: f.drop(columns="carrier")),
            ["column_in_dataframe", "carrier"],
            id="missing-column",
        ),
        pytest.param(
            lambda: _edit(FLIGHTS, _set("distance", 7, "far")),
            ["'distance'", "float64", "rows [7]", "far"],
            id="wrong-dtype",
        ),
        pytest.param(
            lambda: _edit(FLIGHTS, _set("month", 3, "13")),
            ["'month'", "in_range", "rows [3]", "13"],
            id="out-of-range",
        ),
        pytest.param(
            lambda: _edit(FLIGHTS, _set("origin", 11, "XYZ")),
            ["'origin'", "isin", "rows [11]", "XYZ"],
            id="unknown-category",
        ),
        pytest.param(  # a column entirely null across the table: tests/test_errors.py
            lambda: _edit(FLIGHTS, _blank("carrier")),
            ["'carrier'", "not_nullable"],
            id="missing-values-in-a-required-column",
        ),
        pytest.param(
            lambda: _repeat_column(FLIGHTS),
            ["column names must be unique", "distance"],
            id="duplicate-feature-name",
        ),
    ],
)
def test_bad_input_is_refused_by_name_and_outputs_stay(
    workspace: Path, break_data, expected
) -> None:
    previous = _previous_outputs()
    break_data()
    code, output = _validate()
    assert code == 1
    assert str(FLIGHTS) in output
    for fragment in expected:
        assert fragment in output
    for path, content in previous.items():
        assert path.read_bytes() == content
    assert not (paths.CLEAN_DIR / "weather.parquet").exists()


def test_duplicate_feature_name_in_params_is_refused(workspace: Path) -> None:
    text = (
        Path("params.yaml")
        .read_text()
        .replace("numeric: [distance,", "numeric: [carrier, distance,")
    )
    Path("params.yaml").write_text(text)
    with pytest.raises(MlopsError, match=r"feature names must be unique; repeated: \['carrier'\]"):
        load_params(Path("params.yaml"))


def test_duplicates_are_removed_and_counted(workspace: Path) -> None:
    _edit(FLIGHTS, lambda frame: pd.concat([frame, frame.iloc[[4, 9]]], ignore_index=True))
    code, output = _validate()
    assert code == 0, output
    report = json.loads(paths.QUALITY_JSON.read_text())["tables"]["flights"]
    assert report["duplicates_removed"] == 2
    assert report["rows_out"] == report["rows_in"] - 2
    assert len(pd.read_parquet(paths.CLEAN_DIR / "flights.parquet")) == report["rows_out"]


def test_missing_values_and_outliers_are_reported(workspace: Path) -> None:
    raw = pd.concat([pd.read_csv(path) for path in sorted(Path("data/weather").glob("*.csv"))])
    code, output = _validate()
    assert code == 0, output
    report = json.loads(paths.QUALITY_JSON.read_text())["tables"]["weather"]
    assert report["missing"]["wind_gust"] == raw["wind_gust"].isna().sum() > 0
    # The source's one 1,048 mph wind reading (February) is flagged and located, not dropped.
    wind = report["outliers"]["wind_speed"]
    assert wind["count"] >= 1
    assert wind["bounds"][1] < 1048
    assert any(row.startswith("2013-02.csv:") for row in wind["rows"])
    markdown = paths.QUALITY_MD.read_text()
    assert "| wind_speed |" in markdown
    assert "exact duplicates removed" in markdown
