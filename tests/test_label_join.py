"""The label join reads the collector's files with the monitor's reader (Arrow): every field as
the service wrote it, whatever a text looks like, and the latest label of each scored row."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops.columns import LABEL
from mlops.monitoring import labels, logs
from mlops.serving import collector
from mlops.serving.collector import Collector


def _scored(request: str, inputs: list[dict[str, Any]], happened: str | None) -> list[dict]:
    """Rows as the service collects them (``service._rows``)."""
    return [
        {
            "id": f"{request}-{row}",
            "time": collector.now(),
            **({"event_time": happened} if happened else {}),
            "request_id": request,
            "row": row,
            "model_name": "model",
            "model_version": "abc123",
            "inputs": values,
            "outputs": {"probability": 0.25 * row, "label": row % 2},
        }
        for row, values in enumerate(inputs)
    ]


def _collect(folder: Path, kind: str, *batches: list[dict]) -> None:
    for batch in batches:  # a file each
        sink = Collector(str(folder))
        sink.add(kind, batch)
        sink.close()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """Three requests in three files; times and a category that Arrow would take for times."""
    folder = tmp_path / "collected"
    first = [
        {"shop": "S1", "amount": 100, "day": "2024-06-15", "region": None},
        {"shop": None, "amount": 7, "day": "2024-06-16T08:00:00", "region": "north-south"},
    ]
    second = [{"shop": "S7", "amount": 250.5, "day": "2024-06-15", "region": None}]
    _collect(
        folder,
        collector.PREDICTIONS,
        _scored("q0", first, None),
        _scored("q1", second, "2024-06-15T08:00:00-04:00"),
        _scored("q2", first, "2024-06-16T09:30:00+00:00"),
    )
    feedback = [
        {"request_id": "q0", "row": 1, LABEL: 1},
        {"request_id": "q1", "row": 0, LABEL: 0},
        {"request_id": "q1", "row": 0, LABEL: 1},  # a correction: the latest counts
        {"request_id": "never-scored", "row": 0, LABEL: 1},
    ]
    for item in feedback:
        _collect(folder, collector.FEEDBACK, [{"time": collector.now(), **item}])
        time.sleep(0.001)  # distinct times: "latest" is well defined
    return folder


def test_every_field_is_read_as_written(log: Path) -> None:
    rows = logs.records(str(log), collector.PREDICTIONS)
    assert rows["event_time"].tolist()[2:4] == [
        "2024-06-15T08:00:00-04:00",  # text, not a timestamp moved to UTC
        "2024-06-16T09:30:00+00:00",
    ]
    assert pd.isna(rows["event_time"][0])  # the first request sent none
    assert rows["inputs.day"].tolist()[:3] == ["2024-06-15", "2024-06-16T08:00:00", "2024-06-15"]
    assert rows["inputs.amount"].dtype == "float64"  # integers in one file, fractions in another
    assert rows["inputs.amount"].tolist() == [100.0, 7.0, 250.5, 100.0, 7.0]
    assert rows["row"].dtype == "int64"


def test_the_reader_reads_what_json_reads(log: Path) -> None:
    for kind in (collector.PREDICTIONS, collector.FEEDBACK):
        lines = [
            json.loads(line)
            for path in sorted(log.glob(f"{kind}/*/*/*/*/*.jsonl"))
            for line in path.read_text().splitlines()
        ]
        expected = pd.json_normalize(lines, sep=".")
        pd.testing.assert_frame_equal(logs.records(str(log), kind), expected)


def test_the_latest_label_of_each_collected_row_is_written(log: Path, tmp_path: Path) -> None:
    output = tmp_path / "labelled.parquet"
    assert labels.run(str(log), output) == {
        "predictions": 5,
        "feedback": 4,
        "labelled": 2,
        "feedback_without_prediction": 1,
    }
    labelled = pd.read_parquet(output).set_index(labels.KEY)
    assert labelled[LABEL].to_dict() == {("q0", 1): 1, ("q1", 0): 1}
    assert labelled.loc[("q1", 0), "shop"] == "S7"
    assert labelled.loc[("q1", 0), "predicted_probability"] == 0.0
    assert {"predicted_label", "model_version", "event_time", "region"} <= set(labelled.columns)


def test_nothing_collected_joins_to_nothing(tmp_path: Path) -> None:
    assert logs.records(str(tmp_path), collector.FEEDBACK).empty
    label = {"time": collector.now(), "request_id": "a", "row": 0, LABEL: 1}
    _collect(tmp_path, collector.FEEDBACK, [label])
    joined, counts = labels.join(str(tmp_path))
    assert joined.empty
    assert counts == {
        "predictions": 0,
        "feedback": 1,
        "labelled": 0,
        "feedback_without_prediction": 1,
    }
