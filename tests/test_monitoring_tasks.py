"""Monitoring, the label join and retraining from production for a regression and a multiclass
model: the fixture projects ``carseats`` and ``penguins`` (tests/projects) trained in process on
their real data, two days of their rows collected as the service logs them (the second with one
input moved), and every row's true label sent back.

- prediction drift compares the served outputs with the reference profile's: the predicted
  value (numeric), the predicted class (categorical);
- live performance is judged by the task's metrics, overall and per slice;
- the label join and ``retrain-from-production`` keep each task's labels: the number, the class.
"""

from __future__ import annotations

import json
import shutil
from contextlib import chdir
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from mlops import artifact
from mlops.columns import LABEL, category_text
from mlops.config import Params, load_params
from mlops.data import data_import, featurize, validate
from mlops.distribution import CATEGORICAL, NUMERIC, Distribution
from mlops.gitops import production
from mlops.monitoring import labels, monitor, monitor_report
from mlops.monitoring.drift import column_drift
from mlops.pipeline import metrics, reference, train
from mlops.serving import collector
from mlops.serving.collector import Collector
from mlops.task import METRICS, PRIMARY, Predictions, Task
from tests.conftest import run
from tests.datasets import DATASETS, Dataset

DAYS = ("2024-03-01", "2024-03-02")  # windows (monitor.window D): as collected; then shifted
REQUEST_ROWS = 50


@dataclass(frozen=True)
class Case:
    dataset: Dataset
    shifted: str  # a numeric input moved on the second day, within its contract
    shift: float

    @property
    def task(self) -> Task:
        return self.dataset.task


CASES = [
    Case(DATASETS["carseats"], "Price", 40.0),
    Case(DATASETS["penguins"], "flipper_length_mm", 15),
]


@dataclass
class Monitored:
    """A trained project, the rows it scored on each day, its log and the monitoring report."""

    case: Case
    repo: Path
    params: Params
    model: artifact.ModelArtifact
    days: dict[str, pd.DataFrame]  # the rows as clients sent them, with their true target
    log: Path
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return self.params.features.target.column

    def labels(self, rows: pd.DataFrame) -> pd.Series:
        """The true labels in the task's form: the class as text, the number."""
        values = rows[self.target]
        return category_text(values) if self.case.task is Task.MULTICLASS else values.astype(float)

    def predictions(self, day: str) -> Predictions:
        return self.model.predictions(self.model.inputs(self.days[day]))


def _train(case: Case, repo: Path) -> tuple[Params, pd.DataFrame]:
    """The project with its data imported, validated, featurized and a model trained; its rows."""
    repo.mkdir(parents=True)
    for name in ("params.yaml", "schema.yaml"):
        shutil.copy(case.dataset.project / name, repo / name)
    run("git", "init", "--quiet", cwd=repo)
    run("dvc", "init", "--quiet", cwd=repo)
    rows = case.dataset.rows()
    rows.to_csv(repo / f"{case.dataset.table}.csv", index=False)
    # One OpenMP thread: on a busy two-core machine a second one makes training many times slower.
    with chdir(repo), threadpool_limits(1):
        params = load_params(Path("params.yaml"))
        data_import.import_files(
            params, [Path(f"{case.dataset.table}.csv")], case.dataset.table, new=True
        )
        validate.run(params, Path("schema.yaml"))
        featurize.run(params)
        train.run(params)
    return params, rows


def _collect(log: Path, monitored: Monitored, served_as: str) -> None:
    """Each day's rows scored as the service logs them, and every row's true label back."""
    names = [*monitored.params.features.names, *monitored.params.context]
    sink = Collector(str(log), batch_rows=100_000)
    for day, rows in monitored.days.items():
        # As the service logs a row: a category (an integer code too) as its text.
        logged = rows[names].copy()
        for name in [*monitored.params.features.categorical, *monitored.params.context]:
            logged[name] = category_text(logged[name])
        inputs = json.loads(logged.to_json(orient="records"))
        served = monitored.predictions(day).outputs
        truth = json.loads(rows[monitored.target].to_json(orient="records"))
        requests = [f"{day}-{index // REQUEST_ROWS}" for index in range(len(rows))]
        sink.add(
            collector.PREDICTIONS,
            [
                {
                    "id": f"{request}-{index}",
                    "time": f"{day}T12:00:00.000000+00:00",
                    "request_id": request,
                    "row": index % REQUEST_ROWS,
                    "model_name": "model",
                    "model_version": served_as,
                    "inputs": inputs[index],
                    "outputs": served[index],
                }
                for index, request in enumerate(requests)
            ],
        )
        sink.add(
            collector.FEEDBACK,
            [
                {
                    "time": collector.now(),
                    "request_id": request,
                    "row": index % REQUEST_ROWS,
                    LABEL: truth[index],
                }
                for index, request in enumerate(requests)
            ],
        )
    sink.close()


@pytest.fixture(scope="module", params=CASES, ids=[case.dataset.name for case in CASES])
def monitored(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Monitored:
    case: Case = request.param
    root = tmp_path_factory.mktemp(case.dataset.name)
    params, rows = _train(case, root / "project")
    model_dir = root / "project" / "model"
    shifted = rows.assign(**{case.shifted: rows[case.shifted] + case.shift})
    monitored = Monitored(
        case,
        root / "project",
        params,
        artifact.load(model_dir),
        dict(zip(DAYS, [rows, shifted], strict=True)),
        root / "log",
    )
    _collect(monitored.log, monitored, artifact.digest(model_dir)[:12])
    holdout = pd.read_parquet(monitored.repo / featurize.part_path("holdout"))
    holdout_metrics = root / "metrics.json"
    holdout_metrics.write_text(
        json.dumps(
            metrics.score(
                holdout[LABEL].to_numpy(),
                monitored.model.predictions(monitored.model.inputs(holdout)),
            )
        )
    )
    monitored.report = monitor.run(
        str(monitored.log), model_dir, params, monitored.repo / "schema.yaml", holdout_metrics
    )
    return monitored


def _windows(monitored: Monitored) -> dict[str, dict[str, Any]]:
    return {window["window"]: window for window in monitored.report["windows"]}


def test_prediction_drift_compares_the_outputs_the_reference_holds(monitored: Monitored) -> None:
    profile = artifact.reference(monitored.repo / "model")["score"]
    expected = Distribution.from_json(profile)
    assert expected.kind == (CATEGORICAL if monitored.case.task is Task.MULTICLASS else NUMERIC)
    window = _windows(monitored)[DAYS[0]]
    served_as = artifact.digest(monitored.repo / "model")[:12]
    assert window["model_versions"] == {served_as: len(monitored.days[DAYS[0]])}
    served = reference.output(monitored.predictions(DAYS[0]))  # the class, or the value
    assert window["score"] == column_drift("score", expected, served).to_json()
    categorical_tests = {"chisquare", "z", "jensenshannon"}
    assert (window["score"]["method"] in categorical_tests) == (
        monitored.case.task is Task.MULTICLASS
    )


def test_live_performance_is_judged_by_the_tasks_metrics(monitored: Monitored) -> None:
    live = {entry["window"]: entry for entry in monitored.report["performance"]["windows"]}
    assert sorted(live) == list(DAYS)
    for day, rows in monitored.days.items():
        expected = metrics.score(monitored.labels(rows).to_numpy(), monitored.predictions(day))
        assert set(METRICS[monitored.case.task]) <= set(live[day]["metrics"])
        assert live[day]["metrics"] == pytest.approx(expected, nan_ok=True)
    print(f"{monitored.case.dataset.name}: live {live[DAYS[0]]['metrics']}")
    slices = live[DAYS[0]]["slices"]
    assert set(slices) == set(monitored.params.evaluate.slices)
    [context] = monitored.params.context  # a slice that is no input: collected beside them
    assert slices[context]
    primary = PRIMARY[monitored.case.task]
    title = monitor_report.TITLES[primary]
    holdout = monitored.report["performance"]["holdout"][primary]
    assert f"Holdout {title} of the model: {holdout:.4f}." in monitor_report.markdown(
        monitored.report
    )
    assert f"holdout {title}" in monitor_report.page(monitored.report)


def test_a_shifted_input_is_reported_as_drift(monitored: Monitored) -> None:
    windows = _windows(monitored)
    assert monitored.case.shifted not in windows[DAYS[0]]["drifted"]
    shifted = windows[DAYS[1]]
    assert shifted["quality"] == []  # moved within its contract: drift, not bad data
    assert shifted["drifted"][0] == monitored.case.shifted
    print(f"{monitored.case.dataset.name}: {shifted['drifted']}, score {shifted['score']}")


def test_the_label_join_keeps_the_tasks_labels(monitored: Monitored, tmp_path: Path) -> None:
    output = tmp_path / "labelled.parquet"
    counts = labels.run(str(monitored.log), output)
    rows = monitored.days[DAYS[0]]
    assert counts["labelled"] == counts["predictions"] == 2 * len(rows)
    joined = pd.read_parquet(output)
    first = joined[joined["request_id"].str.startswith(DAYS[0])]
    assert _in_order(first)[LABEL].tolist() == monitored.labels(rows).tolist()
    if monitored.case.task is Task.REGRESSION:
        assert joined[LABEL].dtype == "float64"
        assert "predicted_value" in joined
    else:
        assert all(isinstance(label, str) for label in joined[LABEL])
        assert {f"predicted_probabilities.{name}" for name in monitored.model.classes} <= set(
            joined.columns
        )
        assert set(joined["predicted_label"]) <= set(monitored.model.classes)


def _in_order(collected: pd.DataFrame) -> pd.DataFrame:
    """Collected rows of one day in the order they were sent (request ``2024-03-01-3``, row 7:
    the day's row 157)."""
    number = collected["request_id"].str.rsplit("-", n=1).str[1].astype(int)
    return collected.set_index(number * REQUEST_ROWS + collected["row"]).sort_index()


def test_a_class_sent_as_a_number_or_as_text_is_one_class(tmp_path: Path) -> None:
    """An integer-coded class: one client sends ``3``, another ``"3"``, in files of their own."""
    for request, label in enumerate([3, "3", 4.0]):
        sink = Collector(str(tmp_path))
        sink.add(
            collector.FEEDBACK,
            [{"time": collector.now(), "request_id": f"r{request}", "row": 0, LABEL: label}],
        )
        sink.close()
    feedback = labels.latest_feedback(
        labels.read_feedback(str(tmp_path), Task.MULTICLASS), Task.MULTICLASS
    )
    assert sorted(feedback[LABEL]) == ["3", "3", "4"]


def test_retraining_from_production_writes_the_labels_the_pipeline_reads(
    monitored: Monitored,
) -> None:
    rows = monitored.days[DAYS[0]]
    since, until = (datetime.fromisoformat(day).replace(tzinfo=UTC) for day in DAYS)
    with chdir(monitored.repo):
        summary = production.run(
            str(monitored.log),
            since,
            until,
            monitored.params,
            Path("schema.yaml"),
            commit=False,
        )
        assert summary["rows"] == len(rows)
        validate.run(monitored.params, Path("schema.yaml"))
        featurize.run(monitored.params)
    parts = pd.concat(
        [
            pd.read_parquet(monitored.repo / featurize.part_path(name))
            for name in ("train", "validation", "holdout")
        ],
        ignore_index=True,
    )
    collected = _in_order(parts[parts["request_id"].notna()])
    assert collected[LABEL].tolist() == monitored.labels(rows).tolist()
    if monitored.case.task is Task.REGRESSION:
        assert parts[LABEL].dtype == "float64"
    else:
        assert set(parts[LABEL]) == set(monitored.model.classes)
