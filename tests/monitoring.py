"""Collected logs written from feature frames, as the service writes them (for monitoring tests)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mlops.columns import LABEL
from mlops.serving import collector
from mlops.serving.collector import Collector


def write_log(
    folder: Path,
    frame: pd.DataFrame,
    features: dict[str, list[str]],
    time_column: str,
    model_version: str = "test",
    scores: np.ndarray | None = None,
    request_rows: int = 50,
) -> Path:
    """Collect ``frame``'s rows as predictions made at their own time (the event time)."""
    names = [*features["categorical"], *features["numeric"]]
    inputs = frame[names].astype(object).where(frame[names].notna(), None)
    scores = np.full(len(frame), 0.5) if scores is None else scores
    sink = Collector(str(folder), batch_rows=10_000)
    records = inputs.to_dict("records")
    times = frame[time_column].dt.tz_convert("UTC").map(lambda t: t.isoformat()).tolist()
    for start in range(0, len(records), request_rows):
        sink.add(
            collector.PREDICTIONS,
            [
                {
                    "time": collector.now(),
                    "event_time": times[index],
                    "request_id": f"r{start}",
                    "row": index - start,
                    "model_version": model_version,
                    "inputs": records[index],
                    "outputs": {"probability": float(scores[index]), "label": 0},
                }
                for index in range(start, min(start + request_rows, len(records)))
            ],
        )
    sink.close()
    return folder


def write_feedback(
    folder: Path, labels: Sequence[int], every: int = 1, request_rows: int = 50
) -> None:
    """The true labels of rows ``write_log`` collected (every n-th), as feedback records."""
    sink = Collector(str(folder))
    sink.add(
        collector.FEEDBACK,
        [
            {
                "time": collector.now(),
                "request_id": f"r{index - index % request_rows}",
                "row": index % request_rows,
                LABEL: int(label),
            }
            for index, label in enumerate(labels)
            if index % every == 0
        ],
    )
    sink.close()
