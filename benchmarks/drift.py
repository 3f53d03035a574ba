"""Drift monitoring vs Evidently's DataDriftPreset, side by side, printed as a markdown table.

- One month and six months (``params.yaml`` ``lifecycle.months``) against the model's training part
  (the rows its ``reference.json`` profiles): Evidently with default settings vs this project,
  end to end (``mlops monitor drift`` on a collected log of the same rows, as one window, against
  Evidently's whole process: import, read, ``Report.run``) and in process (``Distribution.of`` +
  ``column_drift`` on the same frames: like for like with ``Report.run``). Each end-to-end pair
  runs ``--repeat`` times interleaved; times are medians of CPU seconds (user + system, the
  process and its children), which load on a shared machine does not inflate as it does wall
  time (wall medians are shown too). Peak memory, and whether every column's test and verdict
  are Evidently's.
- A synthetic log of real rows resampled (10 million by default, files of 100,000 rows, an hour
  partition each) through ``mlops monitor drift``, with pandas and with ``--local-cluster 2``;
  and through its drift part alone (``monitor.collect`` + ``judge_window``: no live-performance
  join, no report), to tell the streaming summaries' cost from the rest.

Each measurement runs in a process of its own; its peak memory is the largest sum of resident
memory over its process tree (sampled), or its largest process's exact peak if that is higher.
A measurement whose tree outgrows ``--cap-gb`` is stopped, so a leak cannot take the machine.
Evidently lives in its own environment (``--evidently-python``; ``nox -s benchmark-drift``
makes one) and runs ``benchmarks/evidently_drift.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

from mlops import artifact
from mlops.config import load_params
from mlops.gitops.replay import featurized_months
from mlops.monitoring import logs
from mlops.pipeline import reference
from mlops.serving import collector

BIN = Path(sys.executable).parent
EVIDENTLY_SCRIPT = Path(__file__).resolve().parent / "evidently_drift.py"
SCORED_FROM = datetime(2014, 1, 1, tzinfo=UTC)  # synthetic scoring times: an hour per file
SAMPLE_SECONDS = 0.05
MB = 2**20
TARGET_BYTES = 2 * 2**30
Tests = list[dict[str, Any]] | None
STREAMED = "drift part only (collect + judge_window), pandas"

# Runs a command and writes the peak RSS (Linux: kilobytes) and the CPU seconds of it and its
# descendants to a file.
WRAPPER = """
import json, resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
used = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    json.dump({"maxrss": used.ru_maxrss, "cpu": used.ru_utime + used.ru_stime}, out)
sys.exit(code)
"""

# The drift path of `mlops monitor drift` without the live-performance join and the report.
DRIFT_PART = """
import json, sys
from pathlib import Path
from mlops.monitoring import logs, monitor
from mlops.config import load_params
from mlops.schema import column_contracts
log, model, workers = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
settings = load_params(Path("params.yaml")).monitor.model_copy(update={"window": "Y"})
baseline = monitor.Baseline.load(model, None)
layout = logs.LogLayout(baseline.features["categorical"], baseline.features["numeric"], "Y")
[(name, summary)] = monitor.collect(log, layout, None, workers).summaries.items()
contracts = column_contracts(Path("schema.yaml"))
print(json.dumps(monitor.judge_window(name, summary, baseline, contracts, settings)["columns"]))
"""

# Run in a process of its own: this project's tests on the two frames Evidently gets, timed
# like Report.run; the reference is profiled here too (monitoring reads it from reference.json).
IN_PROCESS = """
import json, sys, time
import pandas as pd
from mlops.distribution import CATEGORICAL, NUMERIC, Distribution
from mlops.monitoring.drift import column_drift
reference, current = (pd.read_parquet(path) for path in sys.argv[1:3])
categorical = json.loads(sys.argv[3])
started, cpu = time.perf_counter(), time.process_time()
kinds = {column: CATEGORICAL if column in categorical else NUMERIC for column in reference}
expected = {column: Distribution.of(reference[column], kind) for column, kind in kinds.items()}
profiled = time.perf_counter()
tests = [
    column_drift(column, expected[column], Distribution.of(current[column], kind)).to_json()
    for column, kind in kinds.items()
]
seconds, reference_seconds = time.perf_counter() - started, profiled - started
print(json.dumps({"seconds": seconds, "cpu_seconds": time.process_time() - cpu,
                  "reference_seconds": reference_seconds, "columns": tests}))
"""


@dataclass(frozen=True)
class Run:
    """A finished command: wall and CPU seconds, peak memory, standard output, if it was stopped."""

    seconds: float
    cpu_seconds: float
    peak_bytes: int
    stdout: str
    stopped: bool


@dataclass(frozen=True)
class Setup:
    """What every measurement shares."""

    model: Path
    loaded: artifact.ModelArtifact
    reference_file: Path
    evidently_python: str
    file_rows: int
    cap_bytes: int
    work: Path
    repeat: int


def descendants_rss(process: psutil.Process) -> int:
    """Resident memory of a process's descendants (the command, and Dask's workers)."""
    total = 0
    for member in process.children(recursive=True):
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def measure(command: list[str], cap_bytes: int) -> Run:
    """Run a command to its end, or until its processes hold more than ``cap_bytes``.

    The command runs under a small Python wrapper: a child's peak RSS counts its parent's memory
    at the fork, so measured from this (large) process every peak would include this one's.
    """
    with tempfile.TemporaryDirectory() as folder:
        files = {name: Path(folder, name) for name in ("stdout", "stderr", "maxrss")}
        with files["stdout"].open("wb") as out, files["stderr"].open("wb") as err:
            started = time.perf_counter()
            wrapper = subprocess.Popen(
                [sys.executable, "-c", WRAPPER, str(files["maxrss"]), *command],
                stdout=out,
                stderr=err,
            )
            watched, peak, stopped = psutil.Process(wrapper.pid), 0, False
            while wrapper.poll() is None:
                try:
                    peak = max(peak, descendants_rss(watched))
                    if peak > cap_bytes and not stopped:
                        stopped = True
                        for member in watched.children(recursive=True):
                            member.kill()
                except psutil.NoSuchProcess:
                    pass
                time.sleep(SAMPLE_SECONDS)
            seconds = time.perf_counter() - started
        if wrapper.returncode not in (0, 3, 4) and not stopped:  # 3, 4: drift, data quality
            error = files["stderr"].read_text()[-3000:]
            raise RuntimeError(f"{command[:3]} exited {wrapper.returncode}:\n{error}")
        used = json.loads(files["maxrss"].read_text())
        peak = max(peak, used["maxrss"] * 1024)
        return Run(seconds, used["cpu"], peak, files["stdout"].read_text(), stopped)


def in_months(frame: pd.DataFrame, time_column: str, months: list[str]) -> pd.DataFrame:
    """The rows whose UTC month is one of ``months`` (the monitor's windows are in UTC)."""
    return frame[logs.window_of(frame[time_column], "M").isin(months)].reset_index(drop=True)


def records(setup: Setup, frame: pd.DataFrame, time_column: str) -> np.ndarray:
    """Each row's collected record from ``event_time`` on (JSON text), as the service would log
    it: the model's score, under the version it names this model by (monitoring's filter)."""
    loaded = setup.loaded
    version = artifact.digest(setup.model)[:12]
    inputs = loaded.inputs(frame)
    scores = loaded.pipeline.predict_proba(inputs)[:, 1].tolist()
    values = inputs.astype(object).where(inputs.notna(), None).to_dict("records")
    times = frame[time_column].dt.tz_convert("UTC").map(lambda t: t.isoformat()).tolist()
    return np.array(
        [
            f'"event_time":"{when}","model_version":"{version}","inputs":{json.dumps(row)},'
            f'"outputs":{{"probability":{score!r},"label":{int(score >= loaded.threshold)}}}}}'
            for when, row, score in zip(times, values, scores, strict=True)
        ],
        dtype=object,
    )


def write_log(folder: Path, parts: Iterable[np.ndarray]) -> Path:
    """One collector file (JSON lines) per part, each in an hour partition of its own."""
    for number, part in enumerate(parts):
        scored = (SCORED_FROM + timedelta(hours=number)).isoformat(timespec="microseconds")
        hour = folder / collector.PREDICTIONS / collector.partition(scored)
        hour.mkdir(parents=True)
        head = f'{{"time":"{scored}","request_id":"r{number}","row":'
        lines = [f"{head}{row},{record}\n" for row, record in enumerate(part)]
        (hour / f"{time.time_ns()}-{number:08x}.jsonl").write_text("".join(lines))
    return folder


def in_files(rows: np.ndarray, file_rows: int) -> list[np.ndarray]:
    return np.array_split(rows, -(-len(rows) // file_rows))


def resampled(rows: np.ndarray, count: int, file_rows: int) -> Iterator[np.ndarray]:
    """``count`` rows drawn with replacement, file by file (memory holds one file)."""
    generator = np.random.default_rng(0)
    for start in range(0, count, file_rows):
        yield rows[generator.integers(0, len(rows), min(file_rows, count - start))]


def monitor(setup: Setup, log: Path, name: str, *options: str) -> tuple[Run, Tests]:
    """``mlops monitor drift`` over the whole log as one window (a year), and its tests."""
    out = setup.work / f"{name}-report"
    command = [str(BIN / "mlops"), "monitor", "drift", str(log), "--model", str(setup.model)]
    run = measure([*command, "--window", "Y", "--out", str(out), *options], setup.cap_bytes)
    if run.stopped:
        return run, None
    [window] = json.loads((out / "drift.json").read_text())["windows"]
    return run, window["columns"]


def drift_part(setup: Setup, log: Path, workers: int) -> tuple[Run, Tests]:
    """The streaming drift path alone: summaries file by file, then the window's tests."""
    command = [sys.executable, "-c", DRIFT_PART, str(log), str(setup.model), str(workers)]
    run = measure(command, setup.cap_bytes)
    return run, None if run.stopped else json.loads(run.stdout)


def agreement(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> str:
    """Whether every column has Evidently's test and verdict, and how close the scores are."""
    mine = {test["column"]: test for test in ours}
    if mine.keys() != {test["column"] for test in theirs}:
        return f"no: columns {sorted(mine)} vs {sorted(test['column'] for test in theirs)}"
    differ = [
        test["column"]
        for test in theirs
        if (mine[test["column"]]["method"], mine[test["column"]]["drifted"])
        != (test["method"], test["drifted"])
    ]
    if differ:
        return f"no: {differ}"
    worst = max(
        abs(mine[test["column"]]["score"] - test["score"]) / max(abs(test["score"]), 1e-300)
        for test in theirs
    )
    drifted = sum(test["drifted"] for test in theirs)
    return f"yes: {len(theirs)} columns, {drifted} drifted, scores within {worst:.0e} relative"


def ratio(evidently: float, ours: float) -> str:
    """How many times Evidently's figure is ours (higher is better for this project)."""
    return f"{evidently / ours:.1f}x"


def line(what: str, who: str, run: Run | Medians, *notes: str) -> list[str]:
    seconds = f"{run.seconds:.2f}"
    return [what, who, seconds, f"{run.cpu_seconds:.2f}", f"{run.peak_bytes / MB:,.0f}", *notes]


@dataclass(frozen=True)
class Medians:
    """Repeated runs of one command: median wall and CPU seconds, the largest peak memory."""

    seconds: float
    cpu_seconds: float
    peak_bytes: int

    @classmethod
    def of(cls, runs: list[Run]) -> Medians:
        return cls(
            statistics.median(run.seconds for run in runs),
            statistics.median(run.cpu_seconds for run in runs),
            max(run.peak_bytes for run in runs),
        )


@dataclass(frozen=True)
class Period:
    """One period's table lines and its headline: the CLI against Evidently's whole process."""

    lines: list[list[str]]
    headline: list[str]


def period_lines(setup: Setup, name: str, rows: pd.DataFrame, texts: np.ndarray) -> Period:
    """Evidently, then this project end to end (interleaved, ``setup.repeat`` times each) and
    in process, on one period's rows."""
    current = setup.work / f"{name}.parquet"
    setup.loaded.inputs(rows).to_parquet(current, index=False)
    out = setup.work / f"{name}-evidently.json"
    command = [setup.evidently_python, str(EVIDENTLY_SCRIPT), str(setup.reference_file)]
    log = write_log(setup.work / f"{name}-log", in_files(texts, setup.file_rows))
    evidently_runs, reports, cli_runs = [], [], []
    for _ in range(setup.repeat):
        evidently_runs.append(measure([*command, str(current), "--out", str(out)], setup.cap_bytes))
        reports.append(json.loads(out.read_text())["runs"][str(current)])
        run, cli_tests = monitor(setup, log, name)
        cli_runs.append(run)
    evidently, cli = Medians.of(evidently_runs), Medians.of(cli_runs)
    theirs = reports[-1]
    report_run = Medians(
        statistics.median(report["seconds"] for report in reports),
        statistics.median(report["cpu_seconds"] for report in reports),
        evidently.peak_bytes,
    )
    categorical = json.dumps(setup.loaded.metadata["features"]["categorical"])
    command = [sys.executable, "-c", IN_PROCESS, str(setup.reference_file), str(current)]
    inner = measure([*command, categorical], setup.cap_bytes)
    computed = json.loads(inner.stdout)
    inner_run = Medians(computed["seconds"], computed["cpu_seconds"], inner.peak_bytes)
    what = f"{name}, {len(rows):,} rows"
    memory = evidently.peak_bytes
    cli_agrees = agreement(cli_tests or [], theirs["columns"])
    inner_agrees = agreement(computed["columns"], theirs["columns"])
    runs = f"medians of {setup.repeat} interleaved runs"
    lines = [
        line(
            what,
            "Evidently: Report.run",
            report_run,
            "1.0x",
            "1.0x",
            f"the baseline (drift share {theirs['drift_share']:.3f}); {runs}",
        ),
        line(
            what,
            "Evidently: whole process",
            evidently,
            "1.0x",
            "1.0x",
            f"import, read Parquet, Report.run; {runs}",
        ),
        line(
            what,
            "`mlops monitor drift` CLI end to end",
            cli,
            ratio(evidently.cpu_seconds, cli.cpu_seconds),
            ratio(memory, cli.peak_bytes),
            f"{cli_agrees}; vs Evidently's whole process; {runs}",
        ),
        line(
            what,
            "in process: Distribution.of + column_drift",
            inner_run,
            ratio(report_run.cpu_seconds, inner_run.cpu_seconds),
            ratio(memory, inner.peak_bytes),
            f"{inner_agrees}; vs Report.run, {computed['reference_seconds']:.2f} s of it"
            " profiling the reference",
        ),
    ]
    headline = [
        f"`mlops monitor drift` CLI end to end, {name}, vs Evidently's whole process",
        f"{ratio(evidently.cpu_seconds, cli.cpu_seconds)} CPU time "
        f"({cli.cpu_seconds:.2f} s vs {evidently.cpu_seconds:.2f} s), "
        f"{ratio(evidently.seconds, cli.seconds)} wall "
        f"({cli.seconds:.2f} s vs {evidently.seconds:.2f} s)",
        runs,
    ]
    return Period(lines, headline)


def large_lines(setup: Setup, texts: np.ndarray, count: int) -> list[list[str]]:
    """The synthetic log through the streaming path, with pandas and on a local Dask cluster."""
    log = write_log(setup.work / "large-log", resampled(texts, count, setup.file_rows))
    runs = {
        "mlops monitor drift, pandas": monitor(setup, log, "large-pandas"),
        "mlops monitor drift, --local-cluster 2": monitor(
            setup, log, "large-cluster", "--local-cluster", "2"
        ),
        STREAMED: drift_part(setup, log, 0),
        "drift part only, local cluster of 2": drift_part(setup, log, 2),
    }
    shutil.rmtree(log)
    what = f"synthetic, {count:,} rows in {-(-count // setup.file_rows)} files"
    return [
        line(what, who, run, "", "", large_note(run, tests, runs, count))
        for who, (run, tests) in runs.items()
    ]


def large_note(run: Run, tests: Tests, runs: dict[str, tuple[Run, Tests]], count: int) -> str:
    """Throughput, the memory target, and the tests against the plain streaming run's."""
    if tests is None:
        return f"stopped on reaching the memory cap ({run.peak_bytes / MB:,.0f} MB)"
    under = "yes" if run.peak_bytes < TARGET_BYTES else "no"
    same = "yes" if tests == runs[STREAMED][1] else "no"
    speed = count / run.seconds
    return f"{speed:,.0f} rows/s; under 2 GB: {under}; tests as the pandas drift part's: {same}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evidently-python", required=True, help="python with evidently")
    parser.add_argument("--model", type=Path, default=Path("model"))
    parser.add_argument("--train", type=Path, default=Path("build/features/train.parquet"))
    parser.add_argument("--periods", type=int, nargs="+", default=[1, 6], help="months each")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved end-to-end runs")
    parser.add_argument(
        "--rows", type=int, default=10_000_000, help="synthetic log rows (0: no synthetic log)"
    )
    parser.add_argument("--file-rows", type=int, default=100_000, help="rows per log file")
    parser.add_argument("--cap-gb", type=float, default=6.0, help="memory cap per measurement")
    args = parser.parse_args()
    params = load_params(Path("params.yaml"))
    loaded = artifact.load(args.model)
    training = pd.read_parquet(args.train)
    profiled = reference.distributions(artifact.reference(args.model))
    if any(column.count != len(training) for column in profiled.values()):
        sys.exit(f"{args.model}/reference.json does not profile {args.train}: run `dvc repro`")
    with tempfile.TemporaryDirectory() as folder:
        setup = Setup(
            args.model,
            loaded,
            Path(folder) / "reference.parquet",
            args.evidently_python,
            args.file_rows,
            int(args.cap_gb * 2**30),
            Path(folder),
            args.repeat,
        )
        loaded.inputs(training).to_parquet(setup.reference_file, index=False)
        # The months after training, as the replay has them.
        later = params.lifecycle.months[: max(args.periods)]
        months = featurized_months(setup.work / "months", params, later, 1, Path("schema.yaml"))
        table, headlines, texts = [], [], np.array([])
        for count in sorted(args.periods):
            name = f"{count} month" + ("s" if count > 1 else "")
            rows = in_months(months, params.data.time_column, later[:count])
            texts = records(setup, rows, params.data.time_column)
            period = period_lines(setup, name, rows, texts)
            table += period.lines
            headlines.append(period.headline)
        if args.rows:
            table += large_lines(setup, texts, args.rows)  # resampled from the longest period
    print_table(["measure", "ratio (higher: faster than Evidently)", "how"], headlines)
    print()
    header = ["what", "who", "wall s", "CPU s", "peak MB", "CPU time vs Evidently"]
    print_table([*header, "memory vs Evidently", "notes"], table)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for cells in rows:
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
