"""Batch scoring: a CSV or Parquet file of rows in, Parquet with scores and model version out.

Each input row comes out with its columns, the model's prediction in its task's form and
``model_version``: a binary model's ``predicted_probability`` and ``predicted_label`` (0/1 at
its threshold); a multiclass model's ``probability[<class>]`` for each class (in the model's
order) and ``predicted_label`` (the likeliest class, as text); a regression's
``predicted_value``.

Without a cluster it runs in pandas, chunk by chunk, with a progress bar, and writes one file.

With a Dask scheduler (or a local cluster) the workers read the input themselves: the client reads
only the file's layout (Parquet footer, or a CSV's size and first lines) and plans partitions of
about ``partition_rows`` rows (large enough that each task takes well over 50 ms, so scheduling
overhead stays small) with ``dd.from_map``: row groups of a Parquet file, merged when small and
split when large, or line-aligned byte ranges of a CSV file. The model is scattered to every worker
once and passed to ``map_partitions`` by reference, so the task graph stays a few kilobytes
whatever the data and the model weigh. Each task reads, scores and writes its partition as one
part of a Parquet data set, ``OUT/part-00000.parquet`` and on, in input order; read back in that
order and concatenated, the parts equal the pandas output row for row (same columns and dtypes:
each part is a chunk read and scored as the pandas path reads and scores one).

IN and OUT must be paths that both this machine and the workers see (a shared file system on a
real cluster). A CSV value quoted across lines cannot be split at line ends: such a file fails
with a message; convert it to Parquet or score it without a cluster.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from mlops import artifact
from mlops.errors import MlopsError
from mlops.progress import bar
from mlops.serving import cluster
from mlops.tables import write_parquet
from mlops.task import Predictions, Task

PARTITION_ROWS = 50_000


def _columns(predicted: Predictions) -> dict[str, Any]:
    """The output columns of a task's predictions (see the module's docstring)."""
    if predicted.task is Task.BINARY:
        return {
            "predicted_probability": predicted.values,
            "predicted_label": predicted.decisions().astype("int8"),
        }
    if predicted.task is Task.REGRESSION:
        return {"predicted_value": predicted.values}
    probabilities = {
        f"probability[{name}]": predicted.values[:, column]
        for column, name in enumerate(predicted.classes)
    }
    return {**probabilities, "predicted_label": predicted.decisions()}


@dataclass(frozen=True)
class Scorer:
    """What a worker needs to score a chunk; sent to each worker once."""

    model: artifact.ModelArtifact
    version: str

    @classmethod
    def load(cls, folder: Path) -> Scorer:
        return cls(artifact.load(folder), artifact.digest(folder)[:12])  # as the service names it

    @property
    def categorical(self) -> list[str]:
        """The input columns read as text, whatever they look like."""
        return list(self.model.metadata["features"]["categorical"])

    def __call__(self, chunk: pd.DataFrame) -> pd.DataFrame:
        scored = chunk.reset_index(drop=True)
        predicted = self.model.predictions(self.model.inputs(scored))
        return scored.assign(**_columns(predicted), model_version=self.version)


def chunks(source: Path, rows: int, categorical: list[str]) -> Iterator[pd.DataFrame]:
    """The input file in chunks of ``rows``; categories read as text, whatever they look like."""
    if source.suffix == ".parquet":
        for batch in pq.ParquetFile(source).iter_batches(batch_size=rows):
            yield batch.to_pandas()
    elif source.suffix == ".csv":
        yield from pd.read_csv(source, chunksize=rows, dtype=dict.fromkeys(categorical, "str"))
    else:
        raise ValueError(f"{source}: expected a .csv or .parquet file")


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
    if scheduler is None and local_cluster == 0:
        parts = chunks(source, partition_rows, scorer.categorical)
        with bar() as progress:
            task = progress.add_task("Scoring", total=None)
            scored = []
            for chunk in parts:
                scored.append(scorer(chunk))
                progress.advance(task, len(chunk))
        write_parquet(pd.concat(scored, ignore_index=True), output)
        rows = sum(map(len, scored))
    else:
        rows = _distributed(scorer, source, output, scheduler, local_cluster, partition_rows)
    return {
        "rows": rows,
        "model_version": scorer.version,
        "on": cluster.where(scheduler, local_cluster),
    }


# On a cluster: partitions planned here, read, scored and written by the workers.


@dataclass(frozen=True)
class ParquetPiece:
    """Rows of a Parquet file: whole row groups, or batch ``batch`` (of ``batch_rows``) of one."""

    path: str
    row_groups: tuple[int, ...]
    rows: int
    batch_rows: int = 0  # 0: all the rows of ``row_groups``
    batch: int = 0

    def read(self) -> pd.DataFrame:
        groups = list(self.row_groups)
        with pq.ParquetFile(self.path) as file:
            if not self.batch_rows:
                return file.read_row_groups(groups).to_pandas()
            batches = file.iter_batches(batch_size=self.batch_rows, row_groups=groups)
            return next(itertools.islice(batches, self.batch, None)).to_pandas()


@dataclass(frozen=True)
class CsvPiece:
    """The lines of a CSV file that start in ``[offset, offset + length)``, under its header."""

    path: str
    offset: int
    length: int
    header: bytes
    categorical: tuple[str, ...]

    def read(self) -> pd.DataFrame:
        from fsspec.utils import read_block  # a Dask dependency, as dd.read_csv splits files

        with open(self.path, "rb") as file:
            block = read_block(file, self.offset, self.length, delimiter=b"\n")
        if b'"' in block and any(line.count(b'"') % 2 for line in block.split(b"\n")):
            raise MlopsError(
                f"{self.path}: a quoted value spans lines, so the file cannot be split at line "
                "ends for a cluster; convert it to Parquet, or score it without a cluster"
            )
        text = block if self.offset == 0 else self.header + block
        return pd.read_csv(io.BytesIO(text), dtype=dict.fromkeys(self.categorical, "str"))


Piece = ParquetPiece | CsvPiece


def plan(source: Path, rows: int, categorical: list[str]) -> tuple[list[Piece], int | None]:
    """Partitions of about ``rows`` rows, in file order, and the rows in all (when known).

    Only the file's layout is read here: a Parquet footer, or a CSV file's size and first MiB
    (to turn ``rows`` into bytes). Parquet row groups are merged up to ``rows``, and one larger
    than ``rows`` is split into equal batches; a CSV file is cut into line-aligned byte ranges.
    """
    path = str(source.resolve())
    if source.suffix == ".parquet":
        layout = pq.ParquetFile(source).metadata
        pieces: list[Piece] = []
        group: list[int] = []
        group_rows = 0
        for index in range(layout.num_row_groups):
            size = layout.row_group(index).num_rows
            if group and group_rows + size > rows:
                pieces.append(ParquetPiece(path, tuple(group), group_rows))
                group, group_rows = [], 0
            if size > rows:
                count = math.ceil(size / rows)
                batch_rows = math.ceil(size / count)
                for batch in range(count):
                    length = min(batch_rows, size - batch * batch_rows)
                    pieces.append(ParquetPiece(path, (index,), length, batch_rows, batch))
            else:
                group.append(index)
                group_rows += size
        if group or not pieces:
            pieces.append(ParquetPiece(path, tuple(group), group_rows))
        return pieces, layout.num_rows
    if source.suffix == ".csv":
        with source.open("rb") as file:
            header = file.readline()
            sample = file.read(1 << 20)
        bytes_per_row = len(sample) / max(sample.count(b"\n"), 1)
        blocksize = max(round(rows * bytes_per_row), 1)
        size = source.stat().st_size
        return [
            CsvPiece(path, offset, blocksize, header, tuple(categorical))
            for offset in range(0, max(size, 1), blocksize)
        ], None
    raise ValueError(f"{source}: expected a .csv or .parquet file")


def _read(piece: Piece) -> pd.DataFrame:
    return piece.read()


def _score_and_write(
    chunk: pd.DataFrame,
    scorer: Scorer,
    folder: str,
    digits: int,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Score one partition into ``folder/part-NNNNN.parquet`` (numbered as the partitions)."""
    if len(chunk):  # an empty partition (a CSV line longer than a block) leaves no part
        number = partition_info["number"] if partition_info else 0
        write_parquet(scorer(chunk), Path(folder) / f"part-{number:0{digits}d}.parquet")
    return pd.DataFrame({"rows": [len(chunk)]})


def _distributed(
    scorer: Scorer,
    source: Path,
    output: Path,
    scheduler: str | None,
    local_cluster: int,
    partition_rows: int,
) -> int:
    import dask
    import dask.dataframe as dd
    from dask.distributed import as_completed, futures_of

    pieces, total = plan(source, partition_rows, scorer.categorical)
    output.mkdir(parents=True, exist_ok=True)
    for stale in output.glob("part-*.parquet"):  # an earlier run's parts would read as rows
        stale.unlink()
    digits = max(5, len(str(len(pieces) - 1)))  # part names sort in partition order
    with cluster.client(scheduler, local_cluster) as client:
        # Sent to each worker once; the tasks hold a reference to it, not a copy.
        model = client.scatter(scorer, broadcast=True)
        # Partitions as pandas reads them: no conversion of text columns on the way.
        with dask.config.set({"dataframe.convert-string": False}):
            frame = dd.from_map(_read, pieces, enforce_metadata=False, meta=_meta(pieces[0]))
            counts = frame.map_partitions(
                _score_and_write,
                model,
                str(output.resolve()),
                digits,
                meta=pd.DataFrame({"rows": pd.Series(dtype="int64")}),
                enforce_metadata=False,
            )
            futures = futures_of(counts.persist())
        rows = 0
        with bar() as progress:
            task = progress.add_task("Scoring on Dask", total=total)
            for future in as_completed(futures):
                rows += int(future.result()["rows"].sum())
                progress.update(task, completed=rows)
        return rows


def _meta(piece: Piece) -> pd.DataFrame:
    """The partitions' columns, with no rows, from the file's schema or header."""
    if isinstance(piece, ParquetPiece):
        return pq.read_schema(piece.path).empty_table().to_pandas()
    return pd.read_csv(io.BytesIO(piece.header), dtype=dict.fromkeys(piece.categorical, "str"))
