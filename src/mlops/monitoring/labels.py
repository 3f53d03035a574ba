"""The label join: collected predictions plus feedback become a labelled data set for retraining.

A prediction row is identified by its request id and its position in the request. When a row
got feedback more than once, the latest label counts; feedback for a row that was not collected
(sampled out, or lost) is counted and left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mlops.columns import LABEL
from mlops.monitoring import logs
from mlops.serving import collector
from mlops.tables import write_parquet

KEY = ["request_id", "row"]


def latest_feedback(records: pd.DataFrame | list[dict[str, Any]]) -> pd.DataFrame:
    """Each scored row's label (the latest, when a row got feedback more than once)."""
    # None when there is none: an empty table's columns would be floats, not the key's text.
    feedback = pd.DataFrame(records if len(records) else None, columns=[*KEY, "time", LABEL])
    return (
        feedback.sort_values("time", kind="stable")
        .drop_duplicates(KEY, keep="last")
        .drop(columns="time")
        .reset_index(drop=True)
    )


def join(url: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """The labelled rows (inputs, served outputs, model version, true label) and counts."""
    scored = logs.records(url, collector.PREDICTIONS)
    feedback = logs.records(url, collector.FEEDBACK)
    if scored.empty:
        scored = pd.DataFrame(columns=[*KEY, "time"])
    scored = scored.rename(
        columns=lambda name: name.removeprefix("inputs.").replace("outputs.", "predicted_")
    )
    latest = latest_feedback(feedback)
    labelled = scored.merge(latest, on=KEY, how="inner", validate="many_to_one")
    counts = {
        "predictions": len(scored),
        "feedback": len(feedback),
        "labelled": len(labelled),
        "feedback_without_prediction": len(latest) - len(labelled),
    }
    return labelled.sort_values("time", kind="stable").reset_index(drop=True), counts


def run(url: str, output: Path) -> dict[str, int]:
    """Write the labelled data set as Parquet; returns the counts."""
    labelled, counts = join(url)
    write_parquet(labelled, output)
    return counts
