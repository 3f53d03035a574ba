"""Serving and batch scoring, side by side, printed as a table with ratios (one run, not a test).

- Single-row requests at concurrency 1 and 16: this service vs MLflow's scoring server
  (``mlflow models serve --env-manager local``) on the same model, one worker each, each server
  pinned to CPU 0 and the load generator to CPU 1. Both run at once and take turns in short
  rounds, so a machine shared with other work slows both alike; each server's CPU time per
  request (its whole process tree) is printed too, a figure other load moves far less than time.
- Batch: ``mlops batch-score`` rows/s (pandas, then a local Dask cluster of 1 and 2 workers) vs
  an in-process ``predict_proba`` on the whole frame.

``--also NAME=PROJECT`` serves other projects' models (``PROJECT/model``, rows from
``PROJECT/build/features/holdout.parquet``) in the same rounds, each compared with this
service's model: a regression or multiclass model beside the binary one, in one run.

MLflow lives in its own environment (``--mlflow-python``; ``nox -s benchmark_serving`` makes
one); without it the MLflow rows are left out and the table says so.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from mlops import artifact
from mlops.serving import batch, servable, serving_check

BIN = Path(sys.executable).parent
SERVER_CPU, CLIENT_CPU = 0, 1
MAX_REQUESTS = 500_000
BASE = ("this service", "MLflow")

# Run by MLflow's own Python: save the pipeline as an MLflow model that serves probabilities.
SAVE_FOR_MLFLOW = """
import sys
from pathlib import Path
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from mlops import artifact
from mlops.serving import servable
model_dir, rows_file, target = sys.argv[1:4]
model = artifact.load(Path(model_dir))
inputs = servable.model_inputs(pd.read_parquet(rows_file), model.metadata["features"])
mlflow.sklearn.save_model(
    model.pipeline,
    target,
    skops_trusted_types=artifact.TRUSTED_TYPES,
    pyfunc_predict_fn="predict_proba",
    signature=infer_signature(inputs, model.pipeline.predict_proba(inputs.head(100))),
)
"""


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server(
    command: list[str], port: int, ready: str, env: dict[str, str]
) -> Iterator[subprocess.Popen]:
    pin = ["taskset", "-c", str(SERVER_CPU)] if shutil.which("taskset") else []
    process = subprocess.Popen(
        [*pin, *command],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited: {process.stderr.read().decode()[-2000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", ready)
                if connection.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{command[0]} not ready in 180 s")
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children (MLflow serves from a child)."""
    process = psutil.Process(pid)
    return sum(sum(part.cpu_times()[:2]) for part in [process, *process.children(recursive=True)])


@dataclass
class Tally:
    """Closed-loop requests to one server, summed over rounds."""

    latencies: list[np.ndarray] = field(default_factory=list)
    seconds: float = 0.0
    cpu: float = 0.0
    failed: int = 0

    def row(self) -> dict[str, float]:
        """Throughput, latency percentiles, and the server's CPU time per request."""
        values = np.concatenate(self.latencies) * 1000
        return {
            "requests/s": len(values) / self.seconds,
            "p50 ms": float(np.median(values)),
            "p99 ms": float(np.quantile(values, 0.99)),
            "cpu us": self.cpu / len(values) * 1e6,
            "failed": self.failed,
        }


def load(
    port: int, path: str, bodies: list[bytes], clients: int, seconds: float, tally: Tally
) -> None:
    """Closed-loop load added to ``tally``: each client sends one request, waits for the
    answer, repeats."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    stop = time.monotonic() + seconds
    headers = {"content-type": "application/json"}

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for request in range(MAX_REQUESTS):
            if time.monotonic() >= stop:
                break
            body = bodies[(number * 101 + request) % len(bodies)]
            started = time.perf_counter()
            connection.request("POST", path, body, headers)
            answer = connection.getresponse()
            answer.read()
            latencies[number].append(time.perf_counter() - started)
            failures[number] += answer.status != 200
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.seconds += time.monotonic() - started
    tally.latencies.extend(np.asarray(part) for part in latencies)
    tally.failed += sum(failures)


def _ask(port: int, path: str, body: dict) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", path, json.dumps(body), {"content-type": "application/json"})
    return json.loads(connection.getresponse().read())


@dataclass(frozen=True)
class Target:
    """A server to start and load: how to start it, where it is ready, where it scores, and
    its one-row bodies."""

    command: list[str]
    port: int
    ready: str
    path: str
    rows_key: str  # the key a body's rows go under
    bodies: list[bytes]
    env: dict[str, str]


def client_records(served: servable.ServedModel, rows: Path) -> list[dict]:
    """A thousand rows as a client sends them: an integer-coded category as an integer."""
    frame = servable.model_inputs(pd.read_parquet(rows), served.features)
    return serving_check.client_records(frame.head(1000), served)


def ours(model_dir: Path, records: list[dict], collected: Path) -> Target:
    """``mlops serve`` on a model folder, collecting what it scores."""
    port = free_port()
    command = [str(BIN / "mlops"), "serve", "--model", str(model_dir), "--port", str(port)]
    command += ["--collect", str(collected)]
    bodies = [json.dumps({"records": [row]}).encode() for row in records]
    return Target(command, port, "/v2/health/ready", "/predict", "records", bodies, {})


def targets(args: argparse.Namespace, records: list[dict], work: Path) -> dict[str, Target]:
    found = {"this service": ours(args.model, records, work / "collected")}
    for name, project in args.also:
        model_dir = project / "model"
        served = servable.load(servable.FolderSource(model_dir))
        rows = client_records(served, project / "build/features/holdout.parquet")
        label = f"{name} ({served.artifact.task})"
        found[label] = ours(model_dir, rows, work / f"{name}-collected")
    if args.mlflow_python:
        mlflow_model = work / "mlflow-model"
        subprocess.run(
            [
                args.mlflow_python,
                "-c",
                SAVE_FOR_MLFLOW,
                str(args.model),
                str(args.rows),
                mlflow_model,
            ],
            check=True,
        )
        mlflow_bin = Path(args.mlflow_python).parent
        port = free_port()
        command = [str(mlflow_bin / "mlflow"), "models", "serve", "-m", str(mlflow_model)]
        command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "--workers", "1"]
        env = {"PATH": f"{mlflow_bin}:{os.environ['PATH']}"}
        theirs = [json.dumps({"dataframe_records": [row]}).encode() for row in records]
        found["MLflow"] = Target(
            command, port, "/ping", "/invocations", "dataframe_records", theirs, env
        )
    return found


def serving_rows(args: argparse.Namespace, records: list[dict], work: Path) -> list[list]:
    found = targets(args, records, work)
    results: dict[tuple[str, int], Tally] = {}
    answers = {}
    with ExitStack() as stack:
        pids = {
            name: stack.enter_context(server(t.command, t.port, t.ready, t.env)).pid
            for name, t in found.items()
        }
        for name, t in found.items():
            answers[name] = _ask(t.port, t.path, {t.rows_key: records[:50]})
        for clients in (1, 16):
            for t in found.values():  # warm up
                load(t.port, t.path, t.bodies, clients, 1.0, Tally())
            for _ in range(args.rounds):  # turns: what slows the machine slows both
                for name, t in found.items():
                    tally = results.setdefault((name, clients), Tally())
                    before = cpu_seconds(pids[name])
                    load(t.port, t.path, t.bodies, clients, args.seconds / args.rounds, tally)
                    tally.cpu += cpu_seconds(pids[name]) - before
    if "MLflow" in answers:
        ours_p = [row["probability"] for row in answers["this service"]["predictions"]]
        theirs_p = [row[1] for row in answers["MLflow"]["predictions"]]
        difference = float(np.abs(np.subtract(ours_p, theirs_p)).max())
        print(f"largest probability difference, this service vs MLflow, 50 rows: {difference:.2g}")
    table = []
    for clients in (1, 16):
        ours_row = results["this service", clients].row()
        mlflow_tally = results.get(("MLflow", clients))
        mlflow_row = mlflow_tally.row() if mlflow_tally else None
        ratio = f"{ours_row['requests/s'] / mlflow_row['requests/s']:.1f}x" if mlflow_row else "n/a"
        also = [(name, results[name, clients].row()) for name in found if name not in BASE]
        for name, row in (("this service", ours_row), ("MLflow", mlflow_row), *also):
            what = f"single row, concurrency {clients}"
            if row is None:
                table.append([what, "MLflow", "not run", "", "", "", "", ""])
                continue
            if name == "this service":
                versus = ratio
            elif name == "MLflow":
                versus = "1.0x"
            else:  # another project's model, in the same rounds
                versus = f"p99 {row['p99 ms'] / ours_row['p99 ms']:.2f}x this service"
            table.append(
                [
                    what,
                    name,
                    f"{row['requests/s']:.0f} req/s",
                    f"{row['p50 ms']:.2f}",
                    f"{row['p99 ms']:.2f}",
                    f"{row['cpu us']:.0f}",
                    str(row["failed"]),
                    versus,
                ]
            )
    return table


def batch_rows(args: argparse.Namespace, work: Path) -> list[list]:
    """Rows/s end to end (read, score, write); Dask clusters are started before the clock."""
    from dask.distributed import LocalCluster

    frame = pd.concat([pd.read_parquet(args.rows)] * args.batch_copies, ignore_index=True)
    source = work / "rows.parquet"
    frame.to_parquet(source, index=False)
    model = artifact.load(args.model)
    started = time.perf_counter()
    model.pipeline.predict_proba(servable.model_inputs(frame, model.metadata["features"]))
    baseline = len(frame) / (time.perf_counter() - started)
    what = f"batch, {len(frame):,} rows"
    table = [[what, "in-process predict_proba", f"{baseline:,.0f} rows/s", "", "", "", "", "1.00x"]]

    def timed(name: str, scheduler: str | None) -> None:
        started = time.perf_counter()
        batch.run(source, work / f"{name}.parquet", args.model, scheduler=scheduler)
        speed = len(frame) / (time.perf_counter() - started)
        table.append(
            [what, name, f"{speed:,.0f} rows/s", "", "", "", "", f"{speed / baseline:.2f}x"]
        )

    timed("batch-score, pandas", None)
    for workers in (1, 2):
        env = {"OMP_NUM_THREADS": "1"}
        with LocalCluster(
            n_workers=workers, threads_per_worker=1, dashboard_address=None, env=env
        ) as cluster:
            timed(f"batch-score, Dask {workers} worker(s)", cluster.scheduler_address)
    return table


def project_argument(text: str) -> tuple[str, Path]:
    name, _, project = text.partition("=")
    if not project:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=PROJECT")
    return name, Path(project)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("model"))
    parser.add_argument("--rows", type=Path, default=Path("build/features/holdout.parquet"))
    parser.add_argument("--seconds", type=float, default=10.0, help="per server and concurrency")
    parser.add_argument("--rounds", type=int, default=5, help="turns the seconds are split into")
    parser.add_argument("--no-batch", action="store_true", help="serving rows only")
    parser.add_argument("--batch-copies", type=int, default=20, help="holdout copies to score")
    parser.add_argument("--mlflow-python", help="python of an environment with mlflow and mlops")
    parser.add_argument(
        "--also",
        type=project_argument,
        action="append",
        default=[],
        metavar="NAME=PROJECT",
        help="another project's model served in the same rounds (repeatable)",
    )
    args = parser.parse_args()
    records = client_records(servable.load(servable.FolderSource(args.model)), args.rows)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {CLIENT_CPU})
        table = serving_rows(args, records, work)
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        if not args.no_batch:
            table += batch_rows(args, work)
    header = [
        "what",
        "who",
        "throughput",
        "p50 ms",
        "p99 ms",
        "CPU us/req",
        "failed",
        "vs baseline",
    ]
    widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(len(header))]
    for row in [header, ["-" * width for width in widths], *table]:
        print(" | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
