"""Inputs that could take the service down or slip past its contract are refused, and the old
model keeps serving: crafted trees, oversized ids, dates at the calendar's edges, damaged model
folders on reload, numbers sent as text, a failed collector write."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import skops.io as sio

from mlops import artifact
from mlops.config import Params
from mlops.serving import collector
from mlops.serving.collector import Collector
from tests.serving import Server, holdout_records, serving


@pytest.fixture(scope="module")
def server(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    project = tmp_path_factory.mktemp("hardening")
    shutil.copytree(trained_project / "model", project / "model")
    shutil.copy(trained_project / "schema.yaml", project / "schema.yaml")
    collected = project / "collected"
    with serving(project, "--collect", str(collected)) as running:
        yield running


@pytest.fixture(scope="module")
def rows(trained_project: Path, params: Params) -> list[dict[str, Any]]:
    return holdout_records(trained_project, params, 3)


def _crafted(trained_project: Path, folder: Path, change: Any) -> Path:
    """The trained model with one node array changed, saved as a model folder."""
    shutil.copytree(trained_project / "model", folder)
    pipeline = sio.load(folder / artifact.MODEL_FILE, trusted=artifact.TRUSTED_TYPES)
    change(pipeline[-1]._predictors[0][0].nodes)
    meta, profile = artifact.metadata(folder), artifact.reference(folder)
    artifact.save(folder, pipeline, meta, profile)
    return folder


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        ("out-of-range", lambda nodes: nodes["left"].__setitem__(0, 10**6), "out of range"),
        ("own-child", lambda nodes: nodes["right"].__setitem__(0, 0), "not after its parent"),
        (
            "feature",
            lambda nodes: nodes["feature_idx"].__setitem__(0, 10**4),
            "feature index out of range",
        ),
    ],
)
def test_a_crafted_tree_is_refused_before_it_is_walked(
    trained_project: Path, tmp_path: Path, name: str, change: Any, problem: str
) -> None:
    folder = _crafted(trained_project, tmp_path / name, change)
    with pytest.raises(artifact.UntrustedModelError, match=problem):
        artifact.load(folder)


def test_the_trained_model_passes_the_tree_check(trained_project: Path) -> None:
    model = artifact.load(trained_project / "model")
    assert len(model.pipeline[-1]._predictors) > 0


def test_an_inference_id_is_bounded_like_a_request_id(server: Server, rows: list) -> None:
    metadata = httpx.get(f"{server.url}/v2/models/model").json()
    inputs = [
        {"name": t["name"], "shape": [1], "datatype": t["datatype"], "data": [rows[0][t["name"]]]}
        for t in metadata["inputs"]
    ]
    body = {"id": "x" * 500_000, "inputs": inputs}  # under the 1 MiB body cap
    answer = httpx.post(f"{server.url}/v2/models/model/infer", json=body, timeout=30)
    assert answer.status_code == 422
    assert "id" in answer.text
    assert len(answer.content) < 2000  # nothing echoed back
    assert httpx.post(
        f"{server.url}/v2/models/model/infer", json={**body, "id": "r1"}, timeout=30
    ).is_success


@pytest.mark.parametrize(
    "when",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "3000-01-01T00:00:00+00:00"],
)
def test_an_event_time_beyond_what_monitoring_can_window_is_a_422(
    server: Server, rows: list, when: str
) -> None:
    answer = httpx.post(
        f"{server.url}/predict", json={"records": rows}, headers={"X-Event-Time": when}
    )
    assert answer.status_code == 422, answer.text
    assert "event time must lie between" in answer.text


def test_numbers_as_text_and_booleans_are_refused(
    server: Server, rows: list, params: Params
) -> None:
    number = params.features.numeric[0]
    for value in ("1400", True):
        answer = httpx.post(f"{server.url}/predict", json={"records": [{**rows[0], number: value}]})
        assert answer.status_code == 422, (value, answer.text)
    accepted = httpx.post(f"{server.url}/predict", json={"records": [{**rows[0], number: 1400}]})
    assert accepted.status_code == 200
    request_id = accepted.json()["request_id"]
    for label in (False, "1", 2):
        refused = {"request_id": request_id, "row": 0, "label": label}
        assert httpx.post(f"{server.url}/feedback", json=refused).status_code == 422
    right = {"request_id": request_id, "row": 0, "label": 1}
    assert httpx.post(f"{server.url}/feedback", json=right).status_code == 202


def test_v2_refusals_name_the_field_without_echoing_the_value(server: Server, rows: list) -> None:
    metadata = httpx.get(f"{server.url}/v2/models/model").json()
    secret = "s3cr3t-value-" * 20
    inputs = [
        {
            "name": t["name"],
            "shape": [1],
            "datatype": t["datatype"],
            "data": [secret if t["datatype"] == "FP64" else rows[0][t["name"]]],
        }
        for t in metadata["inputs"]
    ]
    answer = httpx.post(f"{server.url}/v2/models/model/infer", json={"inputs": inputs})
    assert answer.status_code == 400
    assert metadata["inputs"][-1]["name"] in answer.text
    assert secret not in answer.text


@pytest.mark.parametrize("damage", ["corrupt archive", "empty profile"])
def test_a_reload_of_a_damaged_folder_is_a_409_and_the_old_model_serves(
    trained_project: Path, tmp_path: Path, rows: list, damage: str
) -> None:
    project = tmp_path / "project"
    shutil.copytree(trained_project / "model", project / "model")
    with serving(project) as running:
        before = httpx.post(f"{running.url}/predict", json={"records": rows}).json()
        if damage == "corrupt archive":
            (project / "model" / artifact.MODEL_FILE).write_bytes(b"PK\x03\x04 not a zip")
        else:
            (project / "model" / artifact.REFERENCE_FILE).write_text("{}")
        refused = httpx.post(f"{running.url}/admin/reload", timeout=60)
        assert refused.status_code == 409, refused.text
        assert "still serving the old model" in refused.text
        after = httpx.post(f"{running.url}/predict", json={"records": rows}).json()
    assert after["predictions"] == before["predictions"]
    assert after["model_version"] == before["model_version"]


def test_a_service_without_a_token_says_so_loudly(server: Server) -> None:
    assert "no bearer token" in server.output()


def test_a_failed_write_leaves_no_hidden_file(tmp_path: Path, monkeypatch) -> None:
    sink = Collector(str(tmp_path), flush_seconds=60)

    def full_disk(path: str, *args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sink._fs, "mv", full_disk)
    sink.add(collector.PREDICTIONS, [{"time": collector.now(), "request_id": "r", "row": 0}])
    sink.close()
    assert sink.dropped == 1
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_collected_rows_keep_their_event_time_in_utc(server: Server, rows: list) -> None:
    answer = httpx.post(
        f"{server.url}/predict",
        json={"records": rows[:1]},
        headers={"X-Event-Time": "2013-07-01T08:00:00-04:00", "X-Request-ID": "utc-check"},
    )
    assert answer.status_code == 200
    server.stop()  # the collector flushes on the way out
    folder = server.cwd / "collected"
    records = [
        json.loads(line)
        for path in folder.rglob("*.jsonl")
        for line in path.read_text().splitlines()
        if '"utc-check"' in line
    ]
    assert [record["event_time"] for record in records] == ["2013-07-01T12:00:00+00:00"]
    assert np.isfinite(records[0]["outputs"]["probability"])


def test_a_pin_covers_every_file_of_the_model_folder(trained_project: Path, tmp_path: Path) -> None:
    """Editing model.json (the threshold) changes the folder's sha256: a pinned service refuses
    the reload and keeps serving what it was pinned to."""
    project = tmp_path / "project"
    shutil.copytree(trained_project / "model", project / "model")
    pinned = artifact.digest(project / "model")
    with serving(project, "--sha256", pinned) as running:
        metadata = json.loads((project / "model" / artifact.METADATA_FILE).read_text())
        metadata["threshold"] = 0.0
        (project / "model" / artifact.METADATA_FILE).write_text(json.dumps(metadata))
        refused = httpx.post(f"{running.url}/admin/reload", timeout=60)
        assert refused.status_code == 409
        assert f"expected {pinned}" in refused.text
        version = httpx.get(f"{running.url}/v2/models/model").json()["versions"]
    assert version == [pinned[:12]]
