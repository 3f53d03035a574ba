"""Monitoring: drift against the training profile, data quality apart from drift, the k-of-n
rule, alerts to a webhook, live performance, and the streaming and Dask paths agreeing."""

from __future__ import annotations

import contextlib
import json
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from mlops import artifact, http
from mlops.columns import LABEL
from mlops.config import MonitorParams, Params
from mlops.data import featurize
from mlops.distribution import NUMERIC, Distribution
from mlops.gitops.replay import featurized_months
from mlops.monitoring import drift, monitor
from tests.conftest import FLIGHTS, run, run_watching_imports
from tests.monitoring import write_feedback, write_log
from tests.serving import MLOPS


@pytest.fixture(scope="module")
def model_features(trained_project: Path) -> dict[str, list[str]]:
    return artifact.load(trained_project / "model").metadata["features"]


@pytest.fixture(scope="module")
def served_as(trained_project: Path) -> str:
    """The version the service writes in its logs for the trained model."""
    return artifact.digest(trained_project / "model")[:12]


@pytest.fixture(scope="module")
def training_rows(trained_project: Path) -> pd.DataFrame:
    return pd.read_parquet(trained_project / featurize.part_path("train"))


@pytest.fixture(scope="module")
def summer(tmp_path_factory: pytest.TempPathFactory, params: Params) -> pd.DataFrame:
    """July and August (every 10th flight): the season the winter-spring model never saw."""
    folder = tmp_path_factory.mktemp("summer")
    return featurized_months(
        folder, params, ["2013-07", "2013-08"], every=10, schema_file=FLIGHTS / "schema.yaml"
    )


def _monitor(project: Path, log: Path, *options: str) -> tuple[int, dict[str, Any]]:
    out = log.parent / f"{log.name}-report"
    result = run(
        MLOPS, "monitor", "drift", str(log), "--out", str(out), *options, cwd=project, check=False
    )
    assert result.returncode in (0, 3, 4), result.stderr
    return result.returncode, json.loads((out / "drift.json").read_text())


def test_no_drift_on_a_window_sampled_from_the_training_period(
    trained_project: Path,
    training_rows: pd.DataFrame,
    model_features,
    tmp_path: Path,
    served_as: str,
) -> None:
    sample = training_rows.sample(2000, random_state=0)
    log = write_log(tmp_path / "log", sample, model_features, "time_hour", served_as)
    code, report = _monitor(trained_project, log, "--window", "Y")
    [window] = report["windows"]
    assert code == 0
    assert window["status"] == monitor.NO_DRIFT
    assert window["drifted"] == []
    assert window["quality"] == []
    assert {test["method"] for test in window["columns"]} == {"wasserstein", "jensenshannon"}
    page = (tmp_path / "log-report/drift.html").read_text()
    features = [*model_features["categorical"], *model_features["numeric"]]
    # Inline charts: a panel per feature, the drift map and the drift share (no labels yet).
    assert page.count("<svg") == len(features) + 2
    assert "data:image" not in page


def test_monitor_drift_loads_no_plotting_learning_or_cluster_library(
    trained_project: Path,
    training_rows: pd.DataFrame,
    model_features,
    tmp_path: Path,
    served_as: str,
) -> None:
    """Without feedback (no live metrics) and on a large reference (no p-value tests), the
    command needs neither scikit-learn nor scipy; the report draws without matplotlib."""
    sample = training_rows.sample(1000, random_state=3)
    log = write_log(tmp_path / "log", sample, model_features, "time_hour", served_as)
    heavy = {"matplotlib", "sklearn", "scipy", "dask", "distributed", "fastapi", "uvicorn"}
    command = ["monitor", "drift", str(log), "--window", "Y", "--out", str(tmp_path / "report")]
    result, loaded = run_watching_imports(heavy, *command, cwd=trained_project)
    assert result.returncode in (0, 3, 4), result.stderr
    assert loaded == []
    assert (tmp_path / "report/drift.html").exists()


def test_summer_drifts_on_the_weather_and_sustained_drift_recommends_retraining(
    trained_project: Path, summer: pd.DataFrame, model_features, tmp_path: Path, served_as: str
) -> None:
    log = write_log(tmp_path / "log", summer, model_features, "time_hour", served_as)
    code, report = _monitor(trained_project, log)
    windows = {window["window"]: window for window in report["windows"]}
    july, august = windows["2013-07"], windows["2013-08"]
    # Windows are UTC months: the last evening of August (New York time) is in September.
    assert windows.keys() - {"2013-07", "2013-08"} <= {"2013-09"}
    for window in (july, august):
        assert window["status"] == monitor.DRIFT
        assert {"temp", "dewp", "humid"} <= set(window["drifted"])
        # What did not move: the airports, the routes' lengths, the carriers' shares.
        assert not {"origin", "distance", "carrier"} & set(window["drifted"])
        assert window["quality"] == []
    assert report["decision"]["retrain"]
    assert report["decision"]["drift_windows"] == ["2013-07", "2013-08"]
    assert code == 3
    markdown = (tmp_path / "log-report/drift.md").read_text()
    assert "retrain recommended" in markdown
    assert "| 2013-07 |" in markdown


def test_a_data_problem_is_reported_as_such_never_as_drift(
    trained_project: Path,
    training_rows: pd.DataFrame,
    model_features,
    tmp_path: Path,
    served_as: str,
) -> None:
    broken = training_rows.sample(2000, random_state=1).copy()
    broken["wind_speed"] = np.nan  # a dead sensor
    broken.loc[broken.index[:200], "carrier"] = "ZZ"  # a code nobody mapped
    broken.loc[broken.index[:50], "temp"] = 500.0  # impossible by the contract
    log = write_log(tmp_path / "log", broken, model_features, "time_hour", served_as)
    code, report = _monitor(trained_project, log, "--window", "Y")
    [window] = report["windows"]
    failures = {(failure["column"], failure["check"]) for failure in window["quality"]}
    assert failures == {
        ("wind_speed", "missing_rate"),
        ("carrier", "contract"),
        ("carrier", "unseen_categories"),
        ("temp", "contract"),
    }
    assert window["status"] == monitor.DATA_QUALITY
    tested = {test["column"] for test in window["columns"]}
    assert not {"wind_speed", "carrier", "temp"} & tested
    assert window["drifted"] == []
    assert report["decision"]["status"] == monitor.DATA_QUALITY
    assert not report["decision"]["retrain"]
    assert code == 4
    contract = next(
        f for f in window["quality"] if f["check"] == "contract" and f["column"] == "temp"
    )
    assert contract["examples"] == [500.0]
    # The dead sensor is drawn as such: no bars for the window, and the page says why.
    plotted = report["newest_window_distributions"]["wind_speed"]
    assert plotted["current"] is None
    assert plotted["missing"][1] == 1.0
    assert plotted["reference"]
    assert "all values missing in this window" in (tmp_path / "log-report/drift.html").read_text()


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["drift", "no_drift", "drift"], "drift"),
        (["drift", "drift", "no_drift", "no_drift"], "no_drift"),  # old drift ages out
        (["drift", "too_few_rows", "drift", "too_few_rows"], "drift"),  # small windows skipped
        (["drift", "drift", "data_quality"], "data_quality"),  # fix the data before retraining
        (["data_quality", "data_quality", "drift"], "no_drift"),  # data problems are not drift
    ],
)
def test_retraining_needs_drift_in_k_of_the_last_n_windows(statuses, expected) -> None:
    windows = [{"window": f"w{i}", "status": status} for i, status in enumerate(statuses)]
    decision = monitor.decide(windows, MonitorParams(retrain={"k": 2, "n": 3}))
    assert decision["status"] == expected
    assert decision["retrain"] == (expected == "drift")


class _Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def test_alert_posts_a_chat_message_to_the_webhook(
    trained_project: Path,
    summer: pd.DataFrame,
    model_features,
    tmp_path: Path,
    monkeypatch,
    served_as: str,
) -> None:
    with http.in_background(HTTPServer(("127.0.0.1", 0), _Webhook)) as url:
        monkeypatch.setenv("MLOPS_ALERT_WEBHOOK", f"{url}/hook")
        log = write_log(tmp_path / "log", summer, model_features, "time_hour", served_as)
        code, _ = _monitor(trained_project, log, "--alert")
    assert code == 3
    [message] = _Webhook.received
    assert set(message) == {"text"}  # what Slack and Teams incoming webhooks both accept
    assert "retrain recommended" in message["text"]
    assert "2013-08" in message["text"]


def test_live_performance_per_window_from_feedback(
    trained_project: Path,
    summer: pd.DataFrame,
    model_features,
    tmp_path: Path,
    params: Params,
    served_as: str,
) -> None:
    model = artifact.load(trained_project / "model")
    scores = model.pipeline.predict_proba(model.inputs(summer))[:, 1]
    log = write_log(tmp_path / "log", summer, model_features, "time_hour", served_as, scores=scores)
    labelled = summer.reset_index(drop=True)
    write_feedback(log, labelled[LABEL])
    with contextlib.chdir(trained_project):
        report = monitor.run(str(log), Path("model"), params, Path("schema.yaml"))
    live = {entry["window"]: entry for entry in report["performance"]["windows"]}
    july = labelled[labelled["time_hour"].dt.month == 7]
    from sklearn.metrics import roc_auc_score

    expected = roc_auc_score(july[LABEL], scores[july.index])
    assert live["2013-07"]["metrics"]["roc_auc"] == pytest.approx(expected, abs=1e-6)
    assert live["2013-07"]["metrics"]["rows"] == len(july)
    assert set(live["2013-07"]["slices"]) == set(params.evaluate.slices)
    assert report["performance"]["holdout"] is None or "roc_auc" in report["performance"]["holdout"]


@pytest.mark.slow
def test_the_dask_path_computes_the_same_report_as_the_streaming_path(
    trained_project: Path,
    summer: pd.DataFrame,
    model_features,
    tmp_path: Path,
    params: Params,
    served_as: str,
) -> None:
    log = write_log(
        tmp_path / "log", summer, model_features, "time_hour", served_as, request_rows=500
    )
    with contextlib.chdir(trained_project):
        streamed = monitor.run(str(log), Path("model"), params, Path("schema.yaml"))
        on_dask = monitor.run(str(log), Path("model"), params, Path("schema.yaml"), local_cluster=2)
    assert on_dask["on"] == "local cluster of 2"
    assert on_dask["windows"] == streamed["windows"]


def test_distributions_of_parts_merge_into_the_distribution_of_the_whole() -> None:
    rng = np.random.default_rng(0)
    column = pd.Series(np.round(rng.normal(size=10_000), 2)).mask(rng.random(10_000) < 0.1)
    whole = Distribution.of(column, NUMERIC)
    parts = [Distribution.of(column.iloc[start::7], NUMERIC) for start in range(7)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    assert merged.missing == whole.missing == column.isna().sum()
    np.testing.assert_array_equal(merged.values, whole.values)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    assert merged.std() == pytest.approx(column.std(ddof=0), rel=1e-12)


def test_the_large_sample_statistics_equal_scipys() -> None:
    """Wasserstein and Jensen-Shannon are computed with numpy (scipy's import costs more than
    a month's drift): the same numbers as scipy's functions, on tied and untied samples."""
    from scipy import stats
    from scipy.spatial import distance

    rng = np.random.default_rng(2)
    for decimals, size in [(0, 50), (1, 3000), (3, 20_000)]:
        reference = Distribution.of(pd.Series(rng.normal(size=size).round(decimals)), NUMERIC)
        current = Distribution.of(
            pd.Series(rng.normal(0.3, 1.3, size // 2).round(decimals)), NUMERIC
        )
        expected = stats.wasserstein_distance(
            reference.values, current.values, reference.counts, current.counts
        ) / max(reference.std(), 0.001)
        assert drift.wasserstein(reference, current) == pytest.approx(expected, rel=1e-12)
        shares = drift.binned_shares(reference, current)
        assert drift.jensenshannon(reference, current) == pytest.approx(
            distance.jensenshannon(*shares), rel=1e-12
        )


@pytest.mark.parametrize("method", ["wasserstein", "jensenshannon", "psi", "ks", "chisquare", "z"])
def test_drift_strength_is_one_or_more_exactly_when_a_column_drifted(method: str) -> None:
    """Drifted columns are ranked, and drawn, by one measure whatever the test: for p-value
    tests a smaller p-value is the stronger drift."""
    rng = np.random.default_rng(4)
    values, verdicts = 2 if method == "z" else 8, set()
    for tilt in (0.0, 0.1, 2.0):  # from none to plain drift, over the same values
        reference, current = (
            Distribution.of(pd.Series(rng.choice(values, 5000, p=weights / weights.sum())), NUMERIC)
            for weights in (np.ones(values), 1 + tilt * np.arange(values))
        )
        test = drift.column_drift("x", reference, current, method).to_json()
        assert (drift.strength(test) >= 1) == test["drifted"], test
        verdicts.add(test["drifted"])
    assert verdicts == {True, False}


def test_a_column_with_too_many_values_is_compressed_keeping_its_mass_and_mean() -> None:
    column = pd.Series(np.random.default_rng(1).normal(size=50_000))
    compressed = Distribution.of(column, NUMERIC).compressed(points=1000)
    assert len(compressed.values) <= 1000
    assert not compressed.exact
    assert compressed.present == 50_000
    assert compressed.mean() == pytest.approx(column.mean(), abs=1e-9)


def test_a_model_is_judged_on_the_rows_it_scored(
    trained_project: Path,
    summer: pd.DataFrame,
    training_rows: pd.DataFrame,
    model_features,
    served_as: str,
    tmp_path: Path,
) -> None:
    """Summer traffic scored by an older model says nothing about this one's inputs."""
    log = write_log(tmp_path / "log", summer, model_features, "time_hour", "0123456789ab")
    sample = training_rows.sample(1000, random_state=2)
    write_log(log, sample, model_features, "time_hour", served_as)
    code, report = _monitor(trained_project, log, "--window", "Y")
    assert code == 0
    assert [w["rows"] for w in report["windows"]] == [1000]
    code, everything = _monitor(trained_project, log, "--window", "Y", "--all-versions")
    assert sum(w["rows"] for w in everything["windows"]) == 1000 + len(summer)
