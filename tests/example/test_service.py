"""``mlops serve`` as a real process on loopback: answers, refusals, protocol, metrics, auth."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from mlops import artifact
from mlops.config import Params
from mlops.serving import servable
from tests.conftest import run
from tests.serving import MLOPS, Server, holdout_records, serving


@pytest.fixture(scope="module")
def server(trained_project: Path) -> Iterator[Server]:
    with serving(trained_project, "--max-rows", "100", "--max-body-bytes", "200000") as running:
        yield running


@pytest.fixture(scope="module")
def rows(trained_project: Path, params: Params) -> list[dict[str, Any]]:
    return holdout_records(trained_project, params, 60)


def expected(project: Path, records: list[dict[str, Any]]) -> np.ndarray:
    model = artifact.load(project / "model")
    frame = servable.model_inputs(pd.DataFrame(records), model.metadata["features"])
    return model.pipeline.predict_proba(frame)[:, 1]


def test_predict_equals_the_pipeline_one_row_and_many(
    server: Server, trained_project: Path, rows: list[dict[str, Any]]
) -> None:
    model = artifact.load(trained_project / "model")
    digest = artifact.digest(trained_project / "model")
    many = httpx.post(f"{server.url}/predict", json={"records": rows}).json()
    one = [
        httpx.post(f"{server.url}/predict", json={"records": [row]}).json()["predictions"][0]
        for row in rows[:10]
    ]
    probabilities = np.array([p["probability"] for p in many["predictions"]])
    assert np.abs(probabilities - expected(trained_project, rows)).max() <= 1e-6
    assert np.abs(probabilities[:10] - [p["probability"] for p in one]).max() <= 1e-6
    assert [p["label"] for p in many["predictions"]] == list(
        (probabilities >= model.threshold).astype(int)
    )
    assert many["model_version"] == digest[:12]
    assert many["model_name"] == "model"
    assert many["request_id"]


def _with(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**row, **changes}


def _without(row: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != name}


def _bad_bodies(row: dict[str, Any], params: Params) -> dict[str, tuple[bytes, str]]:
    """Body, and a word the refusal must contain (a field name, or the problem)."""
    number, category = params.features.numeric[0], params.features.categorical[0]
    dumps = json.dumps
    return {
        "wrong type": (dumps({"records": [_with(row, **{number: "many"})]}).encode(), number),
        "wrong category": (dumps({"records": [_with(row, **{category: 42})]}).encode(), category),
        "missing field": (dumps({"records": [_without(row, number)]}).encode(), number),
        "extra field": (dumps({"records": [_with(row, surprise=1)]}).encode(), "surprise"),
        "NaN": (dumps({"records": [_with(row, **{number: float("nan")})]}).encode(), number),
        "infinity": (dumps({"records": [_with(row, **{number: float("inf")})]}).encode(), number),
        "empty list": (b'{"records": []}', "records"),
        "no records key": (dumps([row]).encode(), "body"),
        "not JSON": (b"this is not json", "JSON"),
        "too many rows": (dumps({"records": [row] * 101}).encode(), "records"),
        "huge body": (b'{"records": [' + b" " * 300_000 + b"]}", "bytes"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong type",
        "wrong category",
        "missing field",
        "extra field",
        "NaN",
        "infinity",
        "empty list",
        "no records key",
        "not JSON",
        "too many rows",
        "huge body",
    ],
)
def test_bad_input_gets_a_4xx_that_names_the_problem(
    server: Server, rows: list[dict[str, Any]], params: Params, case: str
) -> None:
    body, named = _bad_bodies(rows[0], params)[case]
    answer = httpx.post(
        f"{server.url}/predict", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert named in answer.text


def test_a_streamed_body_over_the_limit_is_refused(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"records": ['
        for _ in range(30):
            yield b" " * 10_000
        yield b"]}"

    answer = httpx.post(
        f"{server.url}/predict", content=chunks(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413


def test_open_inference_protocol(
    server: Server, trained_project: Path, rows: list[dict[str, Any]], params: Params
) -> None:
    assert httpx.get(f"{server.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200
    assert httpx.get(f"{server.url}/v2/models/model/ready").json()["ready"] is True
    metadata = httpx.get(f"{server.url}/v2/models/model").json()
    assert [tensor["name"] for tensor in metadata["inputs"]] == params.features.names
    assert httpx.get(f"{server.url}/v2/models/other").status_code == 404

    inputs = [
        {
            "name": name,
            "shape": [5],
            "datatype": tensor["datatype"],
            "data": [r[name] for r in rows[:5]],
        }
        for name, tensor in zip(params.features.names, metadata["inputs"], strict=True)
    ]
    answer = httpx.post(f"{server.url}/v2/models/model/infer", json={"id": "r1", "inputs": inputs})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"] == "r1"
    assert body["model_version"] == metadata["versions"][0]
    outputs = {tensor["name"]: tensor for tensor in body["outputs"]}
    assert outputs["probability"]["shape"] == [5]
    assert (
        np.abs(np.array(outputs["probability"]["data"]) - expected(trained_project, rows[:5])).max()
        <= 1e-6
    )

    short = [{**inputs[0], "data": inputs[0]["data"][:2]}, *inputs[1:]]
    refused = httpx.post(f"{server.url}/v2/models/model/infer", json={"inputs": short})
    assert refused.status_code == 400
    wrong = [{**inputs[-1], "data": ["x"] * 5}, *inputs[:-1]]
    refused = httpx.post(f"{server.url}/v2/models/model/infer", json={"inputs": wrong})
    assert refused.status_code == 400
    assert params.features.names[-1] in refused.text


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name) and all(
            f'{key}="{value}"' in line for key, value in labels.items()
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_scores_and_name_the_model(
    server: Server, rows: list[dict[str, Any]]
) -> None:
    before = httpx.get(f"{server.url}/metrics").text
    httpx.post(f"{server.url}/predict", json={"records": rows[:3]})
    httpx.post(f"{server.url}/predict", json={"records": []})
    after = httpx.get(f"{server.url}/metrics").text
    for status, added in (("200", 1), ("422", 1)):
        name = "mlops_requests_total"
        assert _metric(after, name, route="/predict", status=status) == (
            _metric(before, name, route="/predict", status=status) + added
        )
    assert _metric(after, "mlops_prediction_score_count") == (
        _metric(before, "mlops_prediction_score_count") + 3
    )
    assert _metric(after, "mlops_request_seconds_count", route="/predict") > 0
    version = httpx.get(f"{server.url}/v2/models/model").json()["versions"][0]
    assert _metric(after, "mlops_model_info", version=version) == 1
    assert "mlops_collector_queue_rows" in after
    assert "mlops_collector_dropped_rows" in after


def test_bearer_token_guards_scoring_when_set(
    trained_project: Path, rows: list[dict[str, Any]]
) -> None:
    with serving(trained_project, env={"MLOPS_API_TOKEN": "s3cret"}) as guarded:
        url = f"{guarded.url}/predict"
        assert httpx.post(url, json={"records": rows[:1]}).status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert httpx.post(url, json={"records": rows[:1]}, headers=wrong).status_code == 401
        right = {"authorization": "Bearer s3cret"}
        assert httpx.post(url, json={"records": rows[:1]}, headers=right).status_code == 200
        assert httpx.get(f"{guarded.url}/v2/health/ready").status_code == 200
        basic = {"authorization": "Basic czNjcmV0"}  # the token in another scheme
        refused = httpx.post(url, json={"records": rows[:1]}, headers=basic)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        schemes = httpx.get(f"{guarded.url}/openapi.json").json()["components"]
        assert schemes["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"  # clients see it


def test_a_model_with_another_hash_is_refused(trained_project: Path) -> None:
    refused = run(MLOPS, "serve", "--sha256", "0" * 64, cwd=trained_project, check=False)
    assert refused.returncode == 1
    assert "expected " + "0" * 64 in refused.stderr


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(server: Server) -> None:
    result = run(
        str(Path(MLOPS).parent / "schemathesis"),
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "50",
        "--workers",
        "1",
        "--exclude-path",
        "/admin/reload",
        cwd=server.cwd,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]


def test_null_is_accepted_exactly_where_training_had_missing_values(
    server: Server, rows: list[dict[str, Any]], trained_project: Path
) -> None:
    profile = artifact.reference(trained_project / "model")["features"]
    sometimes_missing = next(name for name, doc in profile.items() if doc["missing"])
    never_missing = next(name for name, doc in profile.items() if not doc["missing"])
    accepted = httpx.post(
        f"{server.url}/predict", json={"records": [_with(rows[0], **{sometimes_missing: None})]}
    )
    assert accepted.status_code == 200, accepted.text
    refused = httpx.post(
        f"{server.url}/predict", json={"records": [_with(rows[0], **{never_missing: None})]}
    )
    assert refused.status_code == 422
    assert never_missing in refused.text


@pytest.mark.slow
def test_an_idle_keep_alive_connection_stays_open_past_a_pause(server: Server) -> None:
    """A client's pooled connection survives a pause longer than uvicorn's default 5 s, so its
    next request is not sent into a socket the server is closing (seen under load as
    "Server disconnected without sending a response")."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/v2/health/ready")
        assert connection.getresponse().read() is not None
        time.sleep(7)
        assert connection.sock is not None
        connection.sock.setblocking(False)
        with pytest.raises(BlockingIOError):  # nothing to read, and not the end of the stream
            connection.sock.recv(1, socket.MSG_PEEK)
        connection.sock.setblocking(True)
        connection.request("GET", "/v2/health/ready")
        assert connection.getresponse().status == 200
    finally:
        connection.close()
