"""Batch scoring on Dask: one local worker against two, interleaved, printed as a table.

One run, not a test. The holdout is repeated to ``--total-rows`` rows and written once as one
Parquet file of ``--row-group-rows`` row groups. Two local clusters (processes of one thread,
``OMP_NUM_THREADS=1``) are started before any clock, then ``batch.run`` scores the file on each in
turn, ``--rounds`` times, alternating which goes first, so a change of load on the machine touches
both alike; ``--pandas`` adds the in-process pandas path (its OpenMP threads use every core) to
each round. A table gives the median seconds, rows/s and the ratio to one worker, and, since a
loaded machine caps the ratio, the cores busy with this run (this process and the workers) and
with every other process meanwhile (Linux ``/proc/stat``), in CPU seconds per second.

Every task graph the client sends is measured: Dask's large-graph warning is lowered to one byte
here, so each submission reports its size; the table says the largest, and how many were over
Dask's default threshold (which would have warned).

    python benchmarks/batch_dask.py --model model --rows build/features/holdout.parquet
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import shutil
import statistics
import tempfile
import time
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import dask
import pandas as pd
import psutil
import pyarrow.parquet as pq
from dask.distributed import Client, LocalCluster
from dask.utils import format_bytes, parse_bytes

from mlops.serving import batch

DEFAULT_THRESHOLD = parse_bytes(dask.config.get("distributed.admin.large-graph-warning-threshold"))
SIZE = re.compile(r"Sending large graph of size ([\d.]+ \w+)")


def write_input(rows_file: Path, total: int, row_group_rows: int, target: Path) -> int:
    holdout = pd.read_parquet(rows_file)
    copies = -(-total // len(holdout))
    frame = pd.concat([holdout] * copies, ignore_index=True).head(total)
    frame.to_parquet(target, index=False, row_group_size=row_group_rows)
    return len(frame)


def machine_busy() -> float:
    """CPU seconds every process on the machine has been busy since boot (Linux), else NaN."""
    try:
        fields = [int(field) for field in Path("/proc/stat").read_text().split()[1:9]]
    except OSError:
        return math.nan
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """This process's CPU seconds (run on each worker too)."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


@dataclass
class Run:
    seconds: float
    ours: float  # CPU seconds of this process and the cluster's workers
    others: float  # CPU seconds of every other process on the machine meanwhile
    graphs: list[int]  # bytes of each task graph sent to the scheduler


def timed(source: Path, output: Path, model: Path, rows: int, client: Client | None) -> Run:
    """One ``batch.run`` (on ``client``'s cluster, or in pandas), and what it cost."""
    workers = (lambda: sum(client.run(cpu_seconds).values())) if client else (lambda: 0.0)
    before = (cpu_seconds() + workers(), machine_busy())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        scheduler = client.scheduler.address if client else None
        result = batch.run(source, output, model, scheduler=scheduler, partition_rows=rows)
        seconds = time.perf_counter() - started
    ours = cpu_seconds() + workers() - before[0]
    sizes = [
        parse_bytes(match.group(1))
        for warning in caught
        if (match := SIZE.search(str(warning.message)))
    ]
    if output.is_dir():
        shutil.rmtree(output)
    else:
        output.unlink()
    assert result["rows"] > 0
    return Run(seconds, ours, machine_busy() - before[1] - ours, sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("model"))
    parser.add_argument("--rows", type=Path, default=Path("build/features/holdout.parquet"))
    parser.add_argument("--total-rows", type=int, default=3_000_000)
    parser.add_argument("--row-group-rows", type=int, default=100_000)
    parser.add_argument("--partition-rows", type=int, default=batch.PARTITION_ROWS)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pandas", action="store_true", help="also time the pandas path")
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.WARNING)  # not every worker start and stop
    dask.config.set({"distributed.admin.large-graph-warning-threshold": "1B"})
    load_before = os.getloadavg()
    names: list[int | str] = [*(["pandas"] if args.pandas else []), *args.workers]
    runs: dict[int | str, list[Run]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        work = Path(folder)
        model = work / "model"  # a copy: a pipeline run may rewrite the project's meanwhile
        shutil.copytree(args.model, model)
        source = work / "rows.parquet"
        total = write_input(args.rows, args.total_rows, args.row_group_rows, source)
        groups = pq.ParquetFile(source).metadata.num_row_groups
        pieces = len(batch.plan(source, args.partition_rows, [])[0])
        clients: dict[int | str, Client | None] = {"pandas": None}
        for workers in args.workers:  # every cluster up before any clock starts
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                dashboard_address=None,
                env={"OMP_NUM_THREADS": "1"},
            )
            stack.enter_context(cluster)
            clients[workers] = stack.enter_context(Client(cluster))
        for round_ in range(args.rounds):
            for name in names if round_ % 2 == 0 else names[::-1]:
                run = timed(source, work / f"out-{name}", model, args.partition_rows, clients[name])
                runs[name].append(run)
                print(
                    f"round {round_ + 1}, {name}: {run.seconds:.2f} s,"
                    f" CPU {run.ours:.1f} s ours, {run.others:.1f} s others'",
                    flush=True,
                )
    load_after = os.getloadavg()

    def median(name: int | str, field: str) -> float:
        return statistics.median(getattr(run, field) for run in runs[name])

    one = median(args.workers[0], "seconds")
    header = [
        "workers",
        "seconds (median)",
        "rows/s",
        f"ratio to {args.workers[0]}",
        "cores ours",
        "cores others'",
        "runs (s)",
    ]
    table = [
        [
            "pandas, in-process" if name == "pandas" else str(name),
            f"{median(name, 'seconds'):.2f}",
            f"{total / median(name, 'seconds'):,.0f}",
            f"{one / median(name, 'seconds'):.2f}x",
            f"{statistics.median(run.ours / run.seconds for run in runs[name]):.2f}",
            f"{statistics.median(run.others / run.seconds for run in runs[name]):.2f}",
            " ".join(f"{run.seconds:.1f}" for run in runs[name]),
        ]
        for name in names
    ]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    print(
        f"\n{total:,} rows, {groups} row groups, {pieces} partitions of <= {args.partition_rows:,}"
        f" rows, {args.rounds} interleaved rounds"
    )
    for row in [header, ["-" * width for width in widths], *table]:
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    graphs = [size for name in names for run in runs[name] for size in run.graphs]
    over = sum(size > DEFAULT_THRESHOLD for size in graphs)
    print(
        f"\ntask graphs sent: {len(graphs)}, largest {format_bytes(max(graphs, default=0))};"
        f" over Dask's large-graph threshold ({format_bytes(DEFAULT_THRESHOLD)}): {over}"
    )
    print(
        "load average (1, 5, 15 min) before: "
        + ", ".join(f"{value:.2f}" for value in load_before)
        + "; after: "
        + ", ".join(f"{value:.2f}" for value in load_after)
        + f"; cores: {os.cpu_count()}"
    )


if __name__ == "__main__":
    main()
