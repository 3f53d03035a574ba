"""Batch scoring: a CSV or Parquet file of rows in, Parquet with scores and model version out.

Without a cluster it runs in pandas, chunk by chunk, with a progress bar, and writes one file.
With a Dask scheduler (or a local cluster) the model is sent to every worker once; the file is
read in chunks of ``partition_rows`` (large enough that each task takes well over 50 ms, so
scheduling overhead stays small), each chunk is scored and written by a worker as one part of a
Parquet data set, ``OUT/part-00000.parquet`` and on, in input order. A few chunks are in flight
at a time, so memory stays bounded on both sides.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from sklearn.pipeline import Pipeline

from mlops import artifact, cluster, servable
from mlops.progress import bar
from mlops.tables import write_parquet

PARTITION_ROWS = 50_000
OUTPUTS = ("predicted_probability", "predicted_label", "model_version")


@dataclass(frozen=True)
class Scorer:
    """What a worker needs to score a chunk; sent to each worker once."""

    pipeline: Pipeline
    features: dict[str, list[str]]
    threshold: float
    version: str

    @classmethod
    def load(cls, folder: Path) -> Scorer:
        model = artifact.load(folder)
        version = artifact.digest(folder)[:12]  # as the service names it
        return cls(model.pipeline, model.metadata["features"], model.threshold, version)

    def __call__(self, chunk: pd.DataFrame) -> pd.DataFrame:
        scored = chunk.reset_index(drop=True)
        inputs = servable.model_inputs(scored, self.features)
        probability = self.pipeline.predict_proba(inputs)[:, 1]
        return scored.assign(
            predicted_probability=probability,
            predicted_label=(probability >= self.threshold).astype("int8"),
            model_version=self.version,
        )


def chunks(source: Path, rows: int, categorical: list[str]) -> Iterator[pd.DataFrame]:
    """The input file in chunks of ``rows``; categories read as text, whatever they look like."""
    if source.suffix == ".parquet":
        for batch in pq.ParquetFile(source).iter_batches(batch_size=rows):
            yield batch.to_pandas()
    elif source.suffix == ".csv":
        yield from pd.read_csv(source, chunksize=rows, dtype=dict.fromkeys(categorical, "str"))
    else:
        raise ValueError(f"{source}: expected a .csv or .parquet file")


def _score_and_write(scorer: Scorer, chunk: pd.DataFrame, path: str) -> int:
    write_parquet(scorer(chunk), Path(path))
    return len(chunk)


def run(
    source: Path,
    output: Path,
    model: Path,
    scheduler: str | None = None,
    local_cluster: int = 0,
    partition_rows: int = PARTITION_ROWS,
) -> dict[str, Any]:
    """Score ``source`` into ``output``; returns rows, model version and where it ran."""
    scorer = Scorer.load(model)
    parts = chunks(source, partition_rows, scorer.features["categorical"])
    if scheduler is None and local_cluster == 0:
        with bar() as progress:
            task = progress.add_task("Scoring", total=None)
            scored = []
            for chunk in parts:
                scored.append(scorer(chunk))
                progress.advance(task, len(chunk))
        write_parquet(pd.concat(scored, ignore_index=True), output)
        rows = sum(map(len, scored))
    else:
        rows = _distributed(scorer, parts, output, scheduler, local_cluster)
    return {
        "rows": rows,
        "model_version": scorer.version,
        "on": cluster.where(scheduler, local_cluster),
    }


def _distributed(
    scorer: Scorer,
    parts: Iterator[pd.DataFrame],
    output: Path,
    scheduler: str | None,
    local_cluster: int,
) -> int:
    output.mkdir(parents=True, exist_ok=True)
    with cluster.client(scheduler, local_cluster) as client:
        model = client.scatter(scorer, broadcast=True)
        window = 2 * max(len(client.scheduler_info()["workers"]), 1)
        pending: deque[Any] = deque()
        rows = 0
        with bar() as progress:
            task = progress.add_task("Scoring on Dask", total=None)
            for index, chunk in enumerate(parts):
                if len(pending) >= window:
                    rows += pending.popleft().result()
                    progress.update(task, completed=rows)
                path = str(output.resolve() / f"part-{index:05d}.parquet")
                pending.append(client.submit(_score_and_write, model, chunk, path, pure=False))
            rows += sum(future.result() for future in pending)
        return rows
