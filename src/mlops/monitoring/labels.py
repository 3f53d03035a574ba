"""The label join: collected predictions plus feedback become a labelled data set for retraining.

A prediction row is identified by its request id and its position in the request. When a row
got feedback more than once, the latest label counts; feedback for a row that was not collected
(sampled out, or lost) is counted and left out. Labels take the form the model frame gives them
(``columns.LABEL``): 0/1 as sent, a class as text, a number as a float; the log's outputs say
which task's they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mlops.columns import LABEL, category_text
from mlops.errors import MlopsError
from mlops.monitoring import logs
from mlops.serving import collector
from mlops.tables import write_parquet
from mlops.task import Task

KEY = ["request_id", "row"]
# The output (``Predictions.outputs``) only each task's records hold, as ``logs.records`` names it.
_SIGNS = {
    Task.BINARY: "outputs.probability",
    Task.MULTICLASS: "outputs.probabilities",
    Task.REGRESSION: "outputs.value",
}


def read_feedback(url: str, task: Task) -> pd.DataFrame:
    """Every feedback record; a class is read as text, whether a client sent ``3`` or ``"3"``."""
    return logs.records(url, collector.FEEDBACK, (LABEL,) if task is Task.MULTICLASS else ())


def latest_feedback(records: pd.DataFrame | list[dict[str, Any]], task: Task) -> pd.DataFrame:
    """Each scored row's label (the latest, when a row got feedback more than once), in the
    task's form: 0/1 as sent, the class as text (``category_text``), the number as a float."""
    # None when there is none: an empty table's columns would be floats, not the key's text.
    feedback = pd.DataFrame(records if len(records) else None, columns=[*KEY, "time", LABEL])
    latest = (
        feedback.sort_values("time", kind="stable")
        .drop_duplicates(KEY, keep="last")
        .drop(columns="time")
        .reset_index(drop=True)
    )
    if task is Task.MULTICLASS:
        latest[LABEL] = category_text(latest[LABEL])
    elif task is Task.REGRESSION:
        latest[LABEL] = latest[LABEL].astype("float64")
    return latest


def task_of(scored: pd.DataFrame) -> Task:
    """The task whose outputs collected records (``logs.records``) hold; binary when nothing
    was collected. Records of models of different tasks cannot be joined into one data set."""
    names = [str(name) for name in scored.columns]
    found = {
        task
        for task, sign in _SIGNS.items()
        if any(name == sign or name.startswith(f"{sign}.") for name in names)
    }
    if len(found) > 1:
        raise MlopsError(
            f"the log holds the outputs of {sorted(found)} models: join the rows of one task's "
            "models (a log per model, or rows from when the project had one task)"
        )
    return found.pop() if found else Task.BINARY


def join(url: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """The labelled rows (inputs, served outputs, model version, true label) and counts."""
    scored = logs.records(url, collector.PREDICTIONS)
    task = task_of(scored)
    records = read_feedback(url, task)
    if scored.empty:
        scored = pd.DataFrame(columns=[*KEY, "time"])
    scored = scored.rename(
        columns=lambda name: name.removeprefix("inputs.").replace("outputs.", "predicted_")
    )
    latest = latest_feedback(records, task)
    labelled = scored.merge(latest, on=KEY, how="inner", validate="many_to_one")
    counts = {
        "predictions": len(scored),
        "feedback": len(records),
        "labelled": len(labelled),
        "feedback_without_prediction": len(latest) - len(labelled),
    }
    return labelled.sort_values("time", kind="stable").reset_index(drop=True), counts


def run(url: str, output: Path) -> dict[str, int]:
    """Write the labelled data set as Parquet; returns the counts."""
    labelled, counts = join(url)
    write_parquet(labelled, output)
    return counts
