"""Reading what the collector wrote (``collector.py``'s layout) as flat tables, file by file.

The one reader of that layout: Arrow's JSON reader, one file at a time, so reading is fast and
memory holds one file whatever the size of the log. Monitoring reads predictions typed by the
model's features and outputs (each task's, ``Predictions.outputs``), each row given the window it
belongs to by the time it happened (``event_time``, else the time it was scored); the label join
reads every field as written.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import fsspec
import pandas as pd
import pyarrow as pa
from pyarrow import json as pa_json

from mlops.distribution import CATEGORICAL, NUMERIC
from mlops.serving import collector
from mlops.task import Task

WINDOW = "window"
SCORE = "score"  # the output compared with the reference profile's: probability, value, class
TIME = "time"
PREDICTED_LABEL = "predicted_label"


@dataclass(frozen=True)
class LogLayout:
    """What to read from a prediction record: the features by type, and the window length."""

    categorical: list[str]
    numeric: list[str]
    window: str  # a pandas period alias: h, D, W, M
    versions: frozenset[str] | None = None  # rows scored by these model versions only
    context: tuple[str, ...] = ()  # collected beside the inputs (slices), as text
    task: Task = Task.BINARY  # the form of the logged outputs
    classes: tuple[str, ...] = ()  # a multiclass model's classes

    @property
    def score_kind(self) -> str:
        """The score's kind, as the reference profile has it: a multiclass model's is a class."""
        return CATEGORICAL if self.task is Task.MULTICLASS else NUMERIC

    def arrow_schema(self) -> pa.Schema:
        # Categories as the service logs them: their text (an integer code too, "1997").
        inputs = [(name, pa.string()) for name in [*self.categorical, *self.context]]
        inputs += [(name, pa.float64()) for name in self.numeric]
        return pa.schema(
            [
                ("time", pa.string()),
                ("event_time", pa.string()),
                ("request_id", pa.string()),
                ("row", pa.int64()),
                ("model_version", pa.string()),
                ("inputs", pa.struct(inputs)),
                ("outputs", self._outputs()),
            ]
        )

    def _outputs(self) -> pa.DataType:
        """``Predictions.outputs``' row as Arrow reads it."""
        if self.task is Task.REGRESSION:
            return pa.struct([("value", pa.float64())])
        if self.task is Task.MULTICLASS:
            probabilities = pa.struct([(name, pa.float64()) for name in self.classes])
            return pa.struct([("probabilities", probabilities), ("label", pa.string())])
        return pa.struct([("probability", pa.float64()), ("label", pa.int64())])

    def output_columns(self) -> dict[str, str]:
        """The outputs' flat columns by what monitoring calls them: the score, and a binary
        model's label or a multiclass model's probabilities."""
        if self.task is Task.REGRESSION:
            return {"outputs.value": SCORE}
        if self.task is Task.MULTICLASS:
            return {"outputs.label": SCORE} | {
                f"outputs.probabilities.{name}": probability(name) for name in self.classes
            }
        return {"outputs.probability": SCORE, "outputs.label": PREDICTED_LABEL}


def probability(name: str) -> str:
    """The column of a multiclass model's probabilities of class ``name``."""
    return f"probability[{name}]"


def files(url: str, kind: str = collector.PREDICTIONS) -> list[str]:
    """The log's files in time order (by hour partition, then by write time)."""
    fs, root = fsspec.url_to_fs(url.rstrip("/"))
    paths = fs.glob(f"{root}/{kind}/*/*/*/*/*.jsonl")
    return sorted(path for path in paths if not path.rsplit("/", 1)[-1].startswith("."))


def table(url: str, path: str, schema: pa.Schema | None = None) -> pa.Table:
    """One file as a flat Arrow table (``inputs.carrier``, ``outputs.probabilities.Adelie``):
    the fields of ``schema`` only, typed by it; or every field, its type inferred, text kept as
    text (Arrow's inference reads a string that looks like a time, ``event_time`` or a
    category, as a timestamp: those fields are parsed again as text)."""
    fs, _ = fsspec.url_to_fs(url)
    data = fs.cat_file(path)
    if schema is not None:
        return _flat(_parse(data, schema))
    inferred = _parse(data, None)
    text = pa.schema([field.with_type(_text_for_times(field.type)) for field in inferred.schema])
    return _flat(inferred if text == inferred.schema else _parse(data, text))


def _flat(nested: pa.Table) -> pa.Table:
    """Every struct flattened, however deep (a multiclass row's probabilities are two down)."""
    while any(pa.types.is_struct(field.type) for field in nested.schema):
        nested = nested.flatten()
    return nested


def _parse(data: bytes, schema: pa.Schema | None) -> pa.Table:
    options = pa_json.ParseOptions(
        explicit_schema=schema, unexpected_field_behavior="infer" if schema is None else "ignore"
    )
    return pa_json.read_json(io.BytesIO(data), parse_options=options)


def _text_for_times(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(kind):
        return pa.string()
    if pa.types.is_struct(kind):
        return pa.struct([field.with_type(_text_for_times(field.type)) for field in kind])
    return kind


def records(url: str, kind: str, text: tuple[str, ...] = ()) -> pd.DataFrame:
    """Every record of one kind (predictions, feedback) as one table, nested fields flattened
    (``inputs.carrier``); a field's type is widened across files (integers in one, fractions
    in another: floats), and the fields ``text`` names are text whatever a file holds (a class
    sent as ``3`` by one client and ``"3"`` by another). Empty (no columns) when nothing was
    collected."""
    tables = [_as_text(table(url, path), text) for path in files(url, kind)]
    if not tables:
        return pd.DataFrame()
    return pa.concat_tables(tables, promote_options="permissive").to_pandas()


def _as_text(read: pa.Table, names: tuple[str, ...]) -> pa.Table:
    """``read`` with the columns ``names`` cast to text (``3`` and ``3.0`` are both ``"3"``)."""
    for name in names:
        if name in read.column_names:
            column = read.schema.get_field_index(name)
            read = read.set_column(column, name, read.column(name).cast(pa.string()))
    return read


def read(url: str, path: str, layout: LogLayout) -> pd.DataFrame:
    """One log file as a table: time, window, ids, model version, features and outputs."""
    frame = (
        table(url, path, layout.arrow_schema())
        .to_pandas()
        .rename(columns=layout.output_columns())
        .rename(columns=lambda name: name.removeprefix("inputs."))
    )
    if layout.versions is not None:
        frame = frame[frame["model_version"].isin(layout.versions)].reset_index(drop=True)
    frame[TIME] = happened(frame)
    frame[WINDOW] = window_of(frame[TIME], layout.window)
    return frame.drop(columns="event_time")


def happened(records: pd.DataFrame) -> pd.Series:
    """When each row happened: its event time if the client sent one, else when it was scored."""
    times = records[TIME] if "event_time" not in records else records["event_time"]
    return pd.to_datetime(times.fillna(records[TIME]), utc=True, format="ISO8601")


def window_of(times: pd.Series, window: str) -> pd.Series:
    """The window (``2013-07`` for ``M``, ``2013-07-01`` for ``D``) of each UTC time."""
    return times.dt.tz_localize(None).dt.to_period(window).astype(str)


def frames(url: str, layout: LogLayout) -> Iterator[pd.DataFrame]:
    """Every file of the log, read in turn."""
    for path in files(url):
        yield read(url, path, layout)
