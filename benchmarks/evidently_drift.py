"""Evidently's DataDriftPreset with default settings on Parquet frames, timed, as JSON.

Runs in an environment of its own (Evidently pins its dependencies; 0.7.23 needs pandas < 3),
so it never imports ``mlops``. The tests and ``benchmarks/drift.py`` compare its per-column
methods, scores and verdicts with ``mlops``'s, and its time and memory with ours.

    python benchmarks/evidently_drift.py REFERENCE.parquet CURRENT.parquet... --out RESULT.json
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset

# Evidently names a default test by its display name; mlops by its registered (short) name.
METHODS = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
}
VALUE_DRIFT = "evidently:metric_v2:ValueDrift"
DRIFTED_COLUMNS = "evidently:metric_v2:DriftedColumnsCount"


def drift(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    """The preset's per-column tests and dataset verdict, and the wall and CPU time they took."""
    start, cpu = time.perf_counter(), time.process_time()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference)
    result = snapshot.dict()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    # Verdicts are only exposed as tests: "drift" per column, "lt" (share < drift_share) overall.
    failed = {
        test["metric_config"]["metric_id"]
        for test in result["tests"]
        if test["id"] == "drift" and test["status"] == "FAIL"
    }
    columns = [
        {
            "column": metric["config"]["column"],
            "method": METHODS.get(metric["config"]["method"], metric["config"]["method"]),
            "score": float(metric["value"]),
            "threshold": float(metric["config"]["threshold"]),
            "drifted": metric["id"] in failed,
        }
        for metric in result["metrics"]
        if metric["config"]["type"] == VALUE_DRIFT
    ]
    counted = next(m for m in result["metrics"] if m["config"]["type"] == DRIFTED_COLUMNS)
    dataset_test = next(test for test in result["tests"] if test["id"] == "lt")
    return {
        "rows": len(current),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "columns": columns,
        "drift_share": float(counted["value"]["share"]),
        "dataset_drift": dataset_test["status"] == "FAIL",
    }


def peak_rss_bytes() -> int:
    """This process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("current", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # Evidently and scipy warn on every small or tied sample
    reference = pd.read_parquet(args.reference)
    runs = {str(path): drift(reference, pd.read_parquet(path)) for path in args.current}
    document = {"reference_rows": len(reference), "runs": runs, "peak_rss_bytes": peak_rss_bytes()}
    args.out.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
