"""Production data collection: files, S3, load, crashes, reloads, feedback and the label join."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import httpx
import pandas as pd
import pytest
from moto.server import ThreadedMotoServer
from threadpoolctl import threadpool_limits

from mlops import artifact
from mlops.columns import LABEL
from mlops.config import Params
from mlops.data import featurize
from mlops.monitoring import logs
from mlops.serving import collector, servable
from mlops.serving.collector import Collector
from mlops.serving.serving_process import free_port
from project.model import build_model
from tests.conftest import run
from tests.serving import MLOPS, Server, holdout_records, serving


def _records(count: int) -> list[dict[str, Any]]:
    return [{"time": collector.now(), "request_id": f"r{n}", "row": 0} for n in range(count)]


def _lines(folder: Path) -> list[str]:
    return [
        line for path in sorted(folder.rglob("*.jsonl")) for line in path.read_text().splitlines()
    ]


def test_collector_writes_whole_files_partitioned_by_hour(tmp_path: Path) -> None:
    sink = Collector(str(tmp_path), batch_rows=7, flush_seconds=60)
    for _ in range(4):
        sink.add(collector.PREDICTIONS, _records(5))
    sink.close()
    files = sorted((tmp_path / collector.PREDICTIONS).rglob("*.jsonl"))
    assert len(files) >= 2  # batches of 7 rows, then the rest on close
    hour = collector.partition(collector.now())
    assert all(
        file.parent.relative_to(tmp_path / collector.PREDICTIONS).as_posix() == hour
        for file in files
    )
    assert len(logs.records(str(tmp_path), collector.PREDICTIONS)) == 20
    assert (sink.written, sink.queued, sink.dropped) == (20, 0, 0)
    assert not list(tmp_path.rglob(".*.tmp"))


def test_a_full_queue_drops_and_counts_instead_of_waiting(tmp_path: Path) -> None:
    sink = Collector(str(tmp_path), max_queue_rows=5)
    sink.add(collector.PREDICTIONS, _records(6))
    sink.add(collector.PREDICTIONS, _records(3))
    sink.close()
    assert sink.dropped == 6
    assert len(logs.records(str(tmp_path), collector.PREDICTIONS)) == 3


def _kept(folder: Path, sample_rate: float, requests: int) -> int:
    with Collector(str(folder), sample_rate=sample_rate) as sink:
        return sum(sink.sampled() for _ in range(requests))


def test_sampling_rate(tmp_path: Path) -> None:
    assert _kept(tmp_path, 0.0, 100) == 0
    assert _kept(tmp_path, 1.0, 100) == 100
    assert 800 < _kept(tmp_path, 0.5, 2000) < 1200
    with pytest.raises(ValueError, match="sample rate"):
        Collector(str(tmp_path), sample_rate=1.5)


def test_collector_writes_to_an_s3_compatible_server(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for key, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(key, value)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="collected")
        sink = Collector("s3://collected/production", batch_rows=10)
        sink.add(collector.PREDICTIONS, _records(25))
        sink.close()
        back = logs.records("s3://collected/production", collector.PREDICTIONS)
        assert sorted(back["request_id"]) == sorted(record["request_id"] for record in _records(25))
        keys = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket="collected")
        hour = collector.partition(collector.now())
        assert all(
            item["Key"].startswith(f"production/predictions/{hour}/") for item in keys["Contents"]
        )
    finally:
        server.stop()


def test_feedback_and_label_join(trained_project: Path, params: Params, tmp_path: Path) -> None:
    rows = holdout_records(trained_project, params, 8)
    sink = tmp_path / "collected"
    with serving(trained_project, "--collect", str(sink)) as server:
        for number in range(4):
            # A replay says when its rows happened; without a time zone the time is refused.
            happened = {"x-event-time": "2013-06-15T08:00:00-04:00"} if number == 0 else {}
            answer = httpx.post(
                f"{server.url}/predict",
                json={"records": rows[2 * number : 2 * number + 2]},
                headers={"x-request-id": f"req-{number}", **happened},
            )
            assert answer.status_code == 200
        naive = {"x-event-time": "2013-06-15T08:00:00"}
        refused = httpx.post(f"{server.url}/predict", json={"records": rows[:1]}, headers=naive)
        assert refused.status_code == 422
        feedback = [
            {"request_id": "req-0", "row": 1, "label": 1},
            {"request_id": "req-2", "label": 0},
            {"request_id": "req-2", "label": 1},  # a correction: the latest counts
            {"request_id": "never-scored", "label": 1},
        ]
        for item in feedback:
            assert httpx.post(f"{server.url}/feedback", json=item).status_code == 202
            time.sleep(0.01)  # distinct timestamps, so "latest" is well defined
        assert (
            httpx.post(f"{server.url}/feedback", json={"request_id": "x", "label": 2}).status_code
            == 422
        )
    output = tmp_path / "labelled.parquet"
    result = run(MLOPS, "label-join", str(sink), str(output), cwd=trained_project)
    assert json.loads(result.stdout) == {
        "predictions": 8,
        "feedback": 4,
        "labelled": 2,
        "feedback_without_prediction": 1,
    }
    labelled = pd.read_parquet(output).set_index(["request_id", "row"])
    assert labelled.loc[("req-0", 1), LABEL] == 1
    assert labelled.loc[("req-2", 0), LABEL] == 1
    sent = rows[1]
    for name in params.features.names:
        assert labelled.loc[("req-0", 1), name] == sent[name] or (
            sent[name] is None and pd.isna(labelled.loc[("req-0", 1), name])
        )
    assert {"predicted_probability", "predicted_label", "model_version"} <= set(labelled.columns)
    assert labelled.loc[("req-0", 1), "event_time"] == "2013-06-15T12:00:00+00:00"
    assert pd.isna(labelled.loc[("req-2", 0), "event_time"])


def _load(
    url: str,
    rows: list[dict[str, Any]],
    clients: int,
    seconds: float,
    done: threading.Event | None = None,
) -> dict[str, Any]:
    """``clients`` threads posting 1-3 rows each until ``seconds`` pass or ``done`` is set
    (at most 20,000 requests each)."""
    stop = time.monotonic() + seconds
    done = done or threading.Event()
    tally: Counter[str] = Counter()
    versions: set[str] = set()
    lock = threading.Lock()

    def client(number: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for request in range(20_000):
                if time.monotonic() >= stop or done.is_set():
                    return
                size = 1 + (number + request) % 3
                batch = [rows[(number * 7 + request + k) % len(rows)] for k in range(size)]
                try:
                    answer = http.post("/predict", json={"records": batch})
                except httpx.TransportError as error:  # named: a timeout is not a reset
                    with lock:
                        tally[f"transport error {type(error).__name__}"] += 1
                    continue
                with lock:
                    if answer.status_code == 200:
                        tally["answered rows"] += size
                        versions.add(answer.json()["model_version"])
                    else:
                        tally[f"status {answer.status_code}"] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"tally": tally, "versions": versions}


@pytest.mark.slow
def test_32_clients_for_30_seconds_no_errors_and_every_answered_row_logged(
    trained_project: Path, params: Params, tmp_path: Path
) -> None:
    rows = holdout_records(trained_project, params, 200)
    sink = tmp_path / "collected"
    server = Server(trained_project, "--collect", str(sink))
    try:
        server.wait_ready()
        result = _load(server.url, rows, clients=32, seconds=30)
        # SIGTERM: uvicorn shuts down (the collector flushes), then exits by the same signal.
        assert server.stop() in (0, -signal.SIGTERM), server.output()
    finally:
        server.close()
    tally = result["tally"]
    assert set(tally) == {"answered rows"}, tally
    assert len(_lines(sink)) == tally["answered rows"]


@pytest.mark.slow
def test_kill_9_under_load_leaves_only_whole_lines(
    trained_project: Path, params: Params, tmp_path: Path
) -> None:
    rows = holdout_records(trained_project, params, 50)
    sink = tmp_path / "collected"
    server = Server(trained_project, "--collect", str(sink))
    server.wait_ready()
    killer = threading.Timer(4.0, os.kill, (server.process.pid, signal.SIGKILL))
    killer.start()
    result = _load(server.url, rows, clients=8, seconds=6)
    killer.join()
    server.process.wait()
    server.close()
    lines = _lines(sink)
    assert lines, "nothing was flushed before the kill"
    assert all(json.loads(line)["outputs"]["probability"] >= 0 for line in lines)
    assert len(lines) <= result["tally"]["answered rows"]


def _second_model(project: Path, params: Params, folder: Path) -> Path:
    """Another model for the same inputs (fewer trees), saved as its own artifact folder."""
    first = artifact.load(project / "model")
    frame = pd.read_parquet(project / featurize.part_path("train"))
    inputs = servable.model_inputs(frame, first.metadata["features"])
    with threadpool_limits(1):
        pipeline = build_model(params.train, params.features, {"max_iter": 20})
        pipeline.fit(inputs, frame[LABEL])
    artifact.save(folder, pipeline, first.metadata, artifact.reference(project / "model"))
    return folder


@pytest.mark.slow
def test_reload_under_load_fails_no_request(
    trained_project: Path, params: Params, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(trained_project / "model", project / "model")
    shutil.copy(trained_project / "schema.yaml", project / "schema.yaml")
    versions = {
        "first": project / "first",
        "second": _second_model(trained_project, params, tmp_path / "second"),
    }
    shutil.copytree(project / "model", versions["first"])
    digests = {name: artifact.digest(folder)[:12] for name, folder in versions.items()}
    rows = holdout_records(trained_project, params, 100)
    swaps: list[str] = []
    finished = threading.Event()
    with serving(project) as server:

        def swap() -> None:
            for name, how in [("second", "route"), ("first", "signal"), ("second", "route")]:
                time.sleep(1.5)
                for file in (artifact.MODEL_FILE, artifact.METADATA_FILE):
                    shutil.copy(versions[name] / file, project / "model" / f".{file}")
                    os.replace(project / "model" / f".{file}", project / "model" / file)
                if how == "route":
                    answer = httpx.post(f"{server.url}/admin/reload", timeout=60)
                    swaps.append(answer.json()["version"])
                else:
                    server.process.send_signal(signal.SIGHUP)
                    deadline = time.monotonic() + 60
                    while time.monotonic() < deadline:
                        metadata = httpx.get(f"{server.url}/v2/models/model").json()
                        if metadata["versions"] == [digests[name]]:
                            break
                        time.sleep(0.1)
                    swaps.append(metadata["versions"][0])
            time.sleep(1.0)
            finished.set()

        swapper = threading.Thread(target=swap)
        swapper.start()
        result = _load(server.url, rows, clients=8, seconds=120, done=finished)
        swapper.join()
    assert swaps == [digests["second"], digests["first"], digests["second"]]
    assert set(result["tally"]) == {"answered rows"}, result["tally"]
    assert result["versions"] == set(digests.values())


def test_a_reload_to_other_bytes_than_pinned_is_refused_and_the_old_model_serves(
    trained_project: Path, params: Params, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(trained_project / "model", project / "model")
    pinned = artifact.digest(project / "model")
    other = _second_model(trained_project, params, tmp_path / "other")
    rows = holdout_records(trained_project, params, 3)
    with serving(
        project, "--sha256", pinned, "--schema", str(trained_project / "schema.yaml")
    ) as server:
        shutil.copy(other / artifact.MODEL_FILE, project / "model" / artifact.MODEL_FILE)
        refused = httpx.post(f"{server.url}/admin/reload", timeout=60)
        assert refused.status_code == 409
        assert pinned in refused.text
        answer = httpx.post(f"{server.url}/predict", json={"records": rows})
        assert answer.status_code == 200
        assert answer.json()["model_version"] == pinned[:12]
