"""The service's routes: ``/predict`` (its body generated from the model), the Open Inference
Protocol v2, feedback, health, reload and metrics.

Small requests are scored on the event loop: a one-row answer takes a fraction of a millisecond,
less than a hop to a worker thread and back; above ``INLINE_ROWS`` rows scoring leaves the loop,
so the small requests behind a large one are not held up.
"""

# No ``from __future__ import annotations``: FastAPI reads the request model built at run time
# from the route's annotation, which must therefore be evaluated.
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import numpy as np
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from mlops.columns import category_value
from mlops.errors import MlopsError
from mlops.serving import payload
from mlops.serving.collector import FEEDBACK, PREDICTIONS, now
from mlops.serving.dependencies import (
    AuthorizedState,
    EventTimeHeader,
    NamedModel,
    RequestIdHeader,
    ServiceState,
    State,
    named_model,
)
from mlops.serving.servable import ServedModel
from mlops.task import Predictions, Task

INLINE_ROWS = 64
_OIP_TYPES = {"int64": "INT64", "float64": "FP64"}


def _json(document: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(document, status_code=status)


async def _score(
    state: ServiceState,
    model: ServedModel,
    records: list[dict[str, Any]],
    request_id: str,
    event_time: datetime | None,
) -> Predictions:
    """The model's predictions of ``records``; counted, and collected if sampled."""
    if len(records) > INLINE_ROWS:
        predicted = await run_in_threadpool(model.predictions, records)
    else:
        predicted = model.predictions(records)
    state.metrics.scored(predicted)
    collector = state.collector
    if collector and collector.sampled():
        collector.add(PREDICTIONS, _rows(model, request_id, records, predicted, event_time))
    return predicted


def predict_router(request_model: type[BaseModel], task: Task) -> APIRouter:
    """``POST /predict``, taking ``request_model`` (generated from the model at start) and
    answering in the model's task's form."""
    router = APIRouter()

    @router.post("/predict", response_model=payload.predict_response(task))
    async def predict(
        body: request_model,  # type: ignore[valid-type]
        state: AuthorizedState,
        x_request_id: RequestIdHeader = None,
        x_event_time: EventTimeHeader = None,
    ) -> Response:
        """Score rows: the positive class's probability and the label at the model's threshold
        (binary), each class's probability and the likeliest (multiclass), or the value."""
        model = state.model
        request_id = x_request_id or uuid.uuid4().hex
        records = [row.model_dump() for row in cast(Any, body).records]
        predicted = await _score(state, model, records, request_id, x_event_time)
        return _json(
            {
                "model_name": model.name,
                "model_version": model.version,
                "request_id": request_id,
                "predictions": predicted.outputs,
            }
        )

    return router


def feedback_router(task: Task) -> APIRouter:
    """``POST /feedback``, its label typed as the model's task labels rows."""
    router = APIRouter()
    body_model = payload.feedback(task)

    @router.post("/feedback", status_code=202)
    async def feedback(body: body_model, state: AuthorizedState) -> dict[str, str]:  # type: ignore[valid-type]
        """Record the true label of a scored row, for the label join."""
        if state.collector is None:
            raise HTTPException(409, "this service collects no data: start it with --collect")
        record = cast(BaseModel, body).model_dump()
        if task is Task.MULTICLASS:  # one form of a class in the log: 3 and "3" are "3"
            record["label"] = category_value(record["label"])
        state.collector.add(FEEDBACK, [{"time": now(), **record}])
        return {"status": "accepted"}

    return router


router = APIRouter()


@router.get("/v2/health/live")
async def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/v2/health/ready")
async def ready() -> dict[str, bool]:
    return {"ready": True}  # the model loads before the app exists


@router.get("/v2/models/{name}")
async def model_metadata(model: NamedModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": "scikit-learn",
        "inputs": [
            {
                "name": feature,
                "datatype": _oip_type(kind, model.input_types.get(feature)),
                "shape": [-1],
            }
            for kind, names in model.features.items()
            for feature in names
        ],
        "outputs": _output_metadata(model),
    }


@router.get("/v2/models/{name}/ready")
async def model_ready(model: NamedModel) -> dict[str, Any]:
    return {"name": model.name, "ready": True}


@router.post("/v2/models/{name}/infer")
async def infer(
    name: str,
    body: payload.InferRequest,
    state: AuthorizedState,
    x_event_time: EventTimeHeader = None,
) -> Response:
    """Open Inference Protocol: one input tensor per feature; outputs as ``_tensors`` says."""
    model = await named_model(name, state)  # after the body: a bad body is a 422 whatever the name
    records = _records(body.inputs, state.row_model, state.max_rows)
    request_id = body.id or uuid.uuid4().hex
    predicted = await _score(state, model, records, request_id, x_event_time)
    return _json(
        {
            "model_name": model.name,
            "model_version": model.version,
            "id": request_id,
            "outputs": _tensors(predicted),
        }
    )


def _tensors(predicted: Predictions) -> list[dict[str, Any]]:
    """The output tensors: a binary model's ``probability`` (FP64) and ``label`` (INT64); a
    multiclass model's ``probability`` (FP64, rows x classes, row-major, its ``classes`` in
    parameters) and ``label`` (BYTES); a regression's ``value`` (FP64)."""
    rows, values = len(predicted.values), predicted.values.ravel().tolist()
    if predicted.task is Task.REGRESSION:
        return [{"name": "value", "datatype": "FP64", "shape": [rows], "data": values}]
    labels = {"name": "label", "shape": [rows], "data": predicted.decisions().tolist()}
    if predicted.task is Task.BINARY:
        return [
            {"name": "probability", "datatype": "FP64", "shape": [rows], "data": values},
            {**labels, "datatype": "INT64"},
        ]
    classes = list(predicted.classes)
    return [
        {
            "name": "probability",
            "datatype": "FP64",
            "shape": [rows, len(classes)],
            "parameters": {"classes": classes},
            "data": values,
        },
        {**labels, "datatype": "BYTES"},
    ]


def _output_metadata(model: ServedModel) -> list[dict[str, Any]]:
    """The output tensors' names, types and shapes, any number of rows (-1)."""
    artifact = model.artifact
    empty = np.empty((0, len(artifact.classes)) if artifact.classes else 0)
    tensors = _tensors(Predictions(artifact.task, empty, artifact.threshold, artifact.classes))
    return [
        {
            **{key: value for key, value in tensor.items() if key != "data"},
            "shape": [-1, *tensor["shape"][1:]],
        }
        for tensor in tensors
    ]


@router.post("/admin/reload")
async def admin_reload(state: AuthorizedState) -> dict[str, str]:
    """Load the model again from its source (a new version for a registry source)."""
    try:
        model = await state.reload()
    except (OSError, ValueError, MlopsError) as error:
        raise HTTPException(409, f"reload failed, still serving the old model: {error}") from None
    return {"name": model.name, "version": model.version, "sha256": model.sha256}


@router.get("/metrics")
async def prometheus(state: State) -> Response:
    return Response(state.metrics.exposition(), media_type="text/plain; version=0.0.4")


async def invalid_request(_: Request, error: Exception) -> Response:
    """422 naming each field and problem; the offending input is not echoed (it may be NaN,
    which JSON cannot carry, or large)."""
    assert isinstance(error, RequestValidationError)
    problems = [{key: item[key] for key in ("loc", "msg", "type")} for item in error.errors()]
    return _json({"detail": problems}, 422)


def _oip_type(kind: str, declared: str | None) -> str:
    """The tensor type of an input: numbers FP64, categories as the contract types them."""
    return "FP64" if kind == "numeric" else _OIP_TYPES.get(declared or "str", "BYTES")


def _rows(
    model: ServedModel,
    request_id: str,
    records: Sequence[dict[str, Any]],
    predicted: Predictions,
    event_time: datetime | None,
) -> list[dict[str, Any]]:
    """One collector record per scored row; ``event_time`` is when the rows happened, if given."""
    time = now()
    happened = {} if event_time is None else {"event_time": event_time.isoformat()}
    return [
        {
            "id": uuid.uuid4().hex,
            "time": time,
            **happened,
            "request_id": request_id,
            "row": row,
            "model_name": model.name,
            "model_version": model.version,
            "inputs": record,
            "outputs": output,
        }
        for row, (record, output) in enumerate(zip(records, predicted.outputs, strict=True))
    ]


def _records(
    inputs: Sequence[payload.InferInput], row_model: type[BaseModel], max_rows: int
) -> list[dict[str, Any]]:
    """Columns of an inference request as validated rows; problems become a 400 with a reason."""
    columns = {tensor.name: tensor.data for tensor in inputs}
    lengths = {len(data) for data in columns.values()}
    if len(lengths) != 1 or not 1 <= (rows := lengths.pop()) <= max_rows:
        raise HTTPException(400, f"inputs need the same length, 1 to {max_rows} rows")
    records = []
    for index in range(rows):
        try:
            row = row_model.model_validate({name: data[index] for name, data in columns.items()})
        except ValidationError as error:  # named, not echoed: the input may be large
            problems = "; ".join(
                f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors()
            )
            raise HTTPException(400, f"row {index}: {problems}") from None
        records.append(row.model_dump())
    return records
