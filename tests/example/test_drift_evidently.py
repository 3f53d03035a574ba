"""Drift tests agree with Evidently's DataDriftPreset on real flight data, column by column.

Evidently runs in an environment of its own (``MLOPS_EVIDENTLY_PYTHON``, which ``nox -s tests``
makes) through ``benchmarks/evidently_drift.py``, with default settings. The reference is a
trained model's training part; the windows are July (summer, which the model never saw) and
March (inside the training period). A reference of more than 1,000 rows takes Evidently's
large-sample tests (Wasserstein, Jensen-Shannon); one of fewer rows its p-value tests
(Kolmogorov-Smirnov, chi-square, and the Z-test on the one binary column, the label).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops import artifact, columns
from mlops.config import Params
from mlops.data import featurize
from mlops.distribution import CATEGORICAL, NUMERIC, Distribution
from mlops.gitops.replay import featurized_months
from mlops.monitoring import logs, monitor
from mlops.monitoring.drift import column_drift
from tests.conftest import FLIGHTS, ROOT, run
from tests.monitoring import write_log
from tests.serving import MLOPS

EVIDENTLY_PYTHON = os.environ.get("MLOPS_EVIDENTLY_PYTHON")
EVIDENTLY_SCRIPT = ROOT / "benchmarks" / "evidently_drift.py"
SMALL_REFERENCE_EVERY = 6  # every 6th training row: ~800, below Evidently's 1,000-row limit

pytestmark = pytest.mark.skipif(
    not EVIDENTLY_PYTHON,
    reason="MLOPS_EVIDENTLY_PYTHON is not set (the Python of an environment with "
    "evidently==0.7.23; `nox -s tests` makes one)",
)


@pytest.fixture(scope="module")
def training_rows(trained_project: Path) -> pd.DataFrame:
    return pd.read_parquet(trained_project / featurize.part_path("train"))


@pytest.fixture(scope="module")
def windows(
    tmp_path_factory: pytest.TempPathFactory, params: Params, training_rows: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Rows by the monitor's monthly (UTC) window: March from training, July from the source."""
    folder = tmp_path_factory.mktemp("july")
    july = featurized_months(folder, params, ["2013-07"], 25, FLIGHTS / "schema.yaml")
    rows = {"2013-03": training_rows, "2013-07": july}
    return {
        name: frame[logs.window_of(frame[params.data.time_column], "M") == name]
        for name, frame in rows.items()
    }


def with_label(rows: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The model's inputs and the label (a binary column: Evidently's Z-test on few rows)."""
    return columns.prediction_inputs(rows, params.features).assign(
        **{columns.LABEL: rows[columns.LABEL]}
    )


def evidently(
    reference: pd.DataFrame, currents: dict[str, pd.DataFrame], folder: Path
) -> dict[str, dict[str, Any]]:
    """Evidently's per-column tests and dataset verdict for each current frame."""
    folder.mkdir()
    paths = {name: folder / f"{name}.parquet" for name in ["reference", *currents]}
    reference.to_parquet(paths["reference"], index=False)
    for name, frame in currents.items():
        frame.to_parquet(paths[name], index=False)
    out = folder / "evidently.json"
    run(
        str(EVIDENTLY_PYTHON),
        str(EVIDENTLY_SCRIPT),
        *map(str, paths.values()),
        "--out",
        str(out),
        cwd=ROOT,
    )
    runs = json.loads(out.read_text())["runs"]
    return {name: runs[str(paths[name])] for name in currents}


def column_tests(
    reference: pd.DataFrame, current: pd.DataFrame, categorical: list[str]
) -> list[dict[str, Any]]:
    """This project's test of every column, from the two frames' distributions."""
    kinds = {column: CATEGORICAL if column in categorical else NUMERIC for column in reference}
    return [
        column_drift(
            column,
            Distribution.of(reference[column], kind),
            Distribution.of(current[column], kind),
        ).to_json()
        for column, kind in kinds.items()
    ]


def assert_agree(ours: list[dict[str, Any]], theirs: dict[str, Any]) -> None:
    """Same columns, methods, thresholds, verdicts and drift share; scores equal to rounding."""
    verdicts = {
        test["column"]: (test["method"], test["threshold"], test["drifted"]) for test in ours
    }
    assert verdicts == {
        test["column"]: (test["method"], test["threshold"], test["drifted"])
        for test in theirs["columns"]
    }
    scores = {test["column"]: test["score"] for test in ours}
    expected = {test["column"]: test["score"] for test in theirs["columns"]}
    assert scores == pytest.approx(expected, rel=1e-9, abs=0)
    assert sum(test["drifted"] for test in ours) / len(ours) == theirs["drift_share"]


def test_large_reference_agrees_through_the_monitor_and_column_by_column(
    trained_project: Path,
    training_rows: pd.DataFrame,
    windows: dict[str, pd.DataFrame],
    params: Params,
    tmp_path: Path,
) -> None:
    reference = columns.prediction_inputs(training_rows, params.features)
    currents = {
        name: columns.prediction_inputs(rows, params.features) for name, rows in windows.items()
    }
    theirs = evidently(reference, currents, tmp_path / "evidently")
    model_features = {
        "categorical": params.features.categorical,
        "numeric": params.features.numeric,
    }
    # Logged under the version the service names this model by: monitoring judges its own rows.
    version = artifact.digest(trained_project / "model")[:12]
    log = write_log(
        tmp_path / "log",
        pd.concat(windows.values()),
        model_features,
        params.data.time_column,
        model_version=version,
    )
    out = tmp_path / "report"
    result = run(
        MLOPS,
        "monitor",
        "drift",
        str(log),
        "--window",
        "M",
        "--out",
        str(out),
        cwd=trained_project,
        check=False,
    )
    assert result.returncode in (0, 3), result.stderr
    report = json.loads((out / "drift.json").read_text())
    assert [window["window"] for window in report["windows"]] == list(windows)
    for window in report["windows"]:
        expected = theirs[window["window"]]
        assert window["quality"] == []  # every column tested, none set aside as a data problem
        assert_agree(window["columns"], expected)
        assert window["drift_share"] == round(expected["drift_share"], 6)
        assert window["status"] == (
            monitor.DRIFT if expected["dataset_drift"] else monitor.NO_DRIFT
        )
        ours = column_tests(reference, currents[window["window"]], params.features.categorical)
        assert_agree(ours, expected)
    assert {test["method"] for w in report["windows"] for test in w["columns"]} == {
        "wasserstein",
        "jensenshannon",
    }
    assert theirs["2013-07"]["dataset_drift"]
    assert not theirs["2013-03"]["dataset_drift"]


# A destination only July has gets an expected count of 0: a p-value of 0, in Evidently too.
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_small_reference_agrees_with_the_p_value_tests(
    training_rows: pd.DataFrame, windows: dict[str, pd.DataFrame], params: Params, tmp_path: Path
) -> None:
    categorical = [*params.features.categorical, columns.LABEL]
    reference = with_label(training_rows.iloc[::SMALL_REFERENCE_EVERY], params)
    assert len(reference) < 1000
    currents = {name: with_label(rows, params) for name, rows in windows.items()}
    theirs = evidently(reference, currents, tmp_path / "evidently")
    methods = set()
    for name, current in currents.items():
        ours = column_tests(reference, current, categorical)
        assert_agree(ours, theirs[name])
        methods |= {test["method"] for test in ours}
    assert methods == {"ks", "chisquare", "z"}
