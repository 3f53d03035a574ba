"""Each holdout metric of a project's model with its bootstrap interval, and the time the
intervals take (CPU), printed as a table: the evidence behind a gate record, for any task.

    python benchmarks/holdout_intervals.py REPO [REPO ...]

Each REPO is a project whose pipeline has run (``model/`` and ``build/features/holdout.parquet``);
the resamples are the gate's (``gate.evidence`` in its params.yaml), drawn over the holdout rows.
"""

from __future__ import annotations

import argparse
import time
from contextlib import chdir
from pathlib import Path

import numpy as np
import pandas as pd

from mlops import artifact
from mlops.columns import LABEL
from mlops.config import load_params
from mlops.data.featurize import part_path
from mlops.pipeline.metrics import score
from mlops.registry import bootstrap
from mlops.task import METRICS


def intervals(repo: Path) -> list[list[str]]:
    """One row per metric: project, task, metric, value, interval, CPU seconds of its resamples."""
    with chdir(repo):
        params = load_params()
        model = artifact.load(Path("model"))
        holdout = pd.read_parquet(part_path("holdout"))
    labels = holdout[LABEL].to_numpy()
    predicted = model.predictions(model.inputs(holdout))
    values = score(labels, predicted)
    settings, tail = params.gate.evidence, (1 - params.gate.evidence.level) / 2
    rows = np.arange(len(holdout))
    table = []
    for name in METRICS[model.task]:
        started = time.process_time()
        measure = bootstrap.metric(name, labels, predicted, rows)
        drawn = np.concatenate(
            [measure(counts) for counts in bootstrap.resamples(len(rows), settings)]
        )
        low, high = np.nanquantile(drawn, [tail, 1 - tail])
        table.append(
            [
                repo.name if repo.name != "repo" else repo.parent.name,
                str(model.task),
                name,
                f"{values[name]:.4f}",
                f"{low:.4f} .. {high:.4f}",
                f"{time.process_time() - started:.2f}",
            ]
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", type=Path, nargs="+")
    arguments = parser.parse_args()
    header = ["project", "task", "metric", "holdout", "95% interval", "CPU s"]
    rows = [row for repo in arguments.repos for row in intervals(repo.resolve())]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


if __name__ == "__main__":
    main()
