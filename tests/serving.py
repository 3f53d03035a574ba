"""Shared by the serving tests: small trained models, and ``mlops serve`` as a real process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import chdir, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from mlops import featurize, train, validate
from mlops.config import Params
from mlops.serving_process import free_port
from tests.conftest import FLIGHTS

MLOPS = str(Path(sys.executable).parent / "mlops")


def train_project(folder: Path, sample_data: Path, params: Params) -> Path:
    """The fixture project with the sample data, its holdout and a trained ``model/``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("params.yaml", "schema.yaml"):
        shutil.copy(FLIGHTS / name, folder / name)
    shutil.copytree(sample_data, folder / "data")
    # One OpenMP thread: on a busy two-core machine a second one makes training many times slower.
    with chdir(folder), threadpool_limits(1):
        validate.run(params, folder / "schema.yaml")
        featurize.run(params)
        train.run(params)
    return folder


def holdout_records(project: Path, params: Params, rows: int) -> list[dict[str, Any]]:
    """Holdout rows as a client would send them (JSON: missing values are null)."""
    frame = pd.read_parquet(project / featurize.part_path("holdout"))[params.features.names]
    return json.loads(frame.head(rows).to_json(orient="records"))


class Server:
    """``mlops serve`` in a child process on a loopback port."""

    def __init__(self, project: Path, *options: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = project / f"serve-{self.port}.log"
        self.process = subprocess.Popen(
            [MLOPS, "serve", "--port", str(self.port), *options],
            cwd=project,
            env={**os.environ, **(env or {})},
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"mlops serve exited {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail(f"mlops serve was not ready in {seconds} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextmanager
def serving(project: Path, *options: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    server = Server(project, *options, env=env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
