"""Wall time of the pipeline on the default data: a full `dvc repro` and a no-op one.

Runs in the project's own workspace (the data is pulled or rebuilt first, untimed) and prints a
table against the targets: full <= 120 s and no-op <= 3 s on 2 cores. Not a test: the numbers
depend on the machine, so they are printed, never asserted.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
TARGETS_S = {"full repro": 120.0, "no-op repro": 3.0}
NO_OP_RUNS = 5


def _timed(*command: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def main() -> None:
    subprocess.run(["mlops", "data", "pull"], cwd=ROOT, check=True)
    stages = list(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])
    per_stage = {
        stage: _timed("dvc", "repro", "--force", "--single-item", stage) for stage in stages
    }
    full = _timed("dvc", "repro", "--force")
    no_op = statistics.median(_timed("dvc", "repro") for _ in range(NO_OP_RUNS))

    print(
        f"\nPipeline wall time — {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.machine()}\n"
    )
    print(f"| {'measure':<28} | {'seconds':>8} | {'target':>7} | {'of target':>9} |")
    print(f"|{'-' * 30}|{'-' * 9}:|{'-' * 8}:|{'-' * 10}:|")
    for name, seconds in {
        "full repro": full,
        f"no-op repro (median of {NO_OP_RUNS})": no_op,
    }.items():
        target = TARGETS_S[name.split(" (")[0]]
        print(f"| {name:<28} | {seconds:>8.2f} | {target:>7.0f} | {seconds / target:>9.2f} |")
    for stage, seconds in per_stage.items():
        print(f"| {'  stage ' + stage:<28} | {seconds:>8.2f} | {'':>7} | {'':>9} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
