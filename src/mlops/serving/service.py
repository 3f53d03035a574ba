"""The model service: ``/predict``, Open Inference Protocol v2 routes, feedback, metrics, reload.

One process serves one model and scales by replicas; scikit-learn's OpenMP pool is held to one
thread, since a second thread competing for a busy core makes every call many times slower.
A reload loads the new model off the event loop and swaps one reference, so each request is
answered wholly by the old model or wholly by the new one.
"""

# No ``from __future__ import annotations``: FastAPI reads the request model built at run time
# from the route's annotation, which must therefore be evaluated.
import asyncio
import hmac
import logging
import os
import signal
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast

import numpy as np
import pandas as pd
import uvicorn
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, AwareDatetime, ValidationError
from threadpoolctl import threadpool_limits

from mlops.errors import MlopsError
from mlops.serving import payload, servable
from mlops.serving.collector import FEEDBACK, PREDICTIONS, Collector, now
from mlops.serving.telemetry import Metrics, Observe

log = logging.getLogger(__name__)
TOKEN_ENV = "MLOPS_API_TOKEN"
# Above this many rows scoring leaves the event loop, so small requests are not held up.
INLINE_ROWS = 64
_OIP_TYPES = {"int64": "INT64", "float64": "FP64"}
# The scheme OpenAPI shows; the check itself (constant time, only when a token is set) is ours.
BEARER = HTTPBearer(auto_error=False, description="$MLOPS_API_TOKEN, when the service has one")
RequestIdHeader = Annotated[str | None, Header(max_length=payload.REQUEST_ID_LENGTH)]
# When the scored rows happened (ISO 8601 with a zone), if not now: replays and backfills.
# Monitoring windows and retraining data are by this time; collection time is kept beside it.


EVENT_TIMES = (pd.Timestamp.min.tz_localize(UTC), pd.Timestamp.max.tz_localize(UTC))


def _in_utc(value: datetime) -> datetime:
    """The event time in UTC, within the times monitoring windows can hold (pandas' range)."""
    try:
        stamp = pd.Timestamp(value).tz_convert(UTC)
    except (OverflowError, ValueError):  # beyond Python's own years once in UTC
        stamp = None
    if stamp is None or not EVENT_TIMES[0] <= stamp <= EVENT_TIMES[1]:
        low, high = (f"{bound:%Y-%m-%d}" for bound in EVENT_TIMES)
        raise ValueError(f"the event time must lie between {low} and {high} (UTC)")
    return stamp.to_pydatetime()


EventTimeHeader = Annotated[Annotated[AwareDatetime, AfterValidator(_in_utc)] | None, Header()]


@dataclass(frozen=True)
class Settings:
    source: servable.ModelSource
    expected_sha256: str | None = None
    parity_data: Path | None = None
    schema_file: Path | None = None
    collector_url: str | None = None
    sample_rate: float = 1.0
    max_rows: int = 1000
    max_body_bytes: int = 1 << 20
    token: str | None = None


def _json(document: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(document, status_code=status)


def create_app(settings: Settings) -> FastAPI:
    """The service for one model; the model loads before the app is built."""
    load = (settings.source, settings.expected_sha256, settings.parity_data)
    holder = {"model": servable.load(*load)}
    collector = (
        Collector(settings.collector_url, settings.sample_rate) if settings.collector_url else None
    )
    metrics = Metrics(
        queued=lambda: collector.queued if collector else 0,
        dropped=lambda: collector.dropped if collector else 0,
    )
    first = holder["model"]
    metrics.serving(first.name, first.version, first.sha256, first.fast is not None)
    row_model = payload.row_model(
        first.features,
        settings.schema_file,
        first.missing_in_training,
        first.input_types,
        first.context,
    )
    predict_request = payload.predict_request(row_model, settings.max_rows)
    reloading = asyncio.Lock()

    async def reload() -> servable.ServedModel:
        async with reloading:
            new = await asyncio.to_thread(servable.load, *load)
            if new.interface != holder["model"].interface:
                raise ValueError("the new model takes other inputs: deploy it as a new service")
            holder["model"] = new
            metrics.serving(new.name, new.version, new.sha256, new.fast is not None)
            log.info("now serving %s version %s", new.name, new.version)
            return new

    def reload_on_signal() -> None:
        asyncio.ensure_future(reload()).add_done_callback(_report_reload)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, reload_on_signal)
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGHUP)
            if collector:
                await asyncio.to_thread(collector.close)

    def authorized(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    ) -> None:
        if settings.token is None:
            return
        if credentials is None or not hmac.compare_digest(
            credentials.credentials.encode(), settings.token.encode()
        ):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )

    app = FastAPI(title="mlops model service", lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_middleware(Observe, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    guarded = [Depends(authorized)]

    async def score(
        records: list[dict[str, Any]], request_id: str, event_time: datetime | None = None
    ) -> dict[str, Any]:
        model = holder["model"]
        if len(records) > INLINE_ROWS:
            probabilities = await run_in_threadpool(model.probabilities, records)
        else:
            probabilities = model.probabilities(records)
        labels = (probabilities >= model.artifact.threshold).astype(int)
        for value in probabilities:
            metrics.scores.observe(value)
        if collector and collector.sampled():
            rows = _rows(model, request_id, records, probabilities, labels, event_time)
            collector.add(PREDICTIONS, rows)
        return {
            "model_name": model.name,
            "model_version": model.version,
            "request_id": request_id,
            "probabilities": probabilities,
            "labels": labels,
        }

    @app.post("/predict", response_model=payload.PredictResponse, dependencies=guarded)
    async def predict(
        body: predict_request,  # type: ignore[valid-type]
        x_request_id: RequestIdHeader = None,
        x_event_time: EventTimeHeader = None,
    ) -> Response:
        """Score rows: probability of the positive class and the label at the model's threshold."""
        request_id = x_request_id or uuid.uuid4().hex
        rows = cast(Any, body).records  # a model built from the model's features at start
        scored = await score([row.model_dump() for row in rows], request_id, x_event_time)
        predictions = [
            {"probability": float(p), "label": int(label)}
            for p, label in zip(scored.pop("probabilities"), scored.pop("labels"), strict=True)
        ]
        return _json({**scored, "predictions": predictions})

    @app.post("/feedback", status_code=202, dependencies=guarded)
    async def feedback(body: payload.Feedback) -> dict[str, str]:
        """Record the true label of a scored row, for the label join."""
        if collector is None:
            raise HTTPException(409, "this service collects no data: start it with --collect")
        collector.add(FEEDBACK, [{"time": now(), **body.model_dump()}])
        return {"status": "accepted"}

    @app.get("/v2/health/live")
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready")
    async def ready() -> dict[str, bool]:
        return {"ready": True}  # the model loads before the app exists

    def served(name: str) -> servable.ServedModel:
        model = holder["model"]
        if name != model.name:
            raise HTTPException(404, f"no model named {name!r}; this service has {model.name!r}")
        return model

    @app.get("/v2/models/{name}")
    async def model_metadata(name: str) -> dict[str, Any]:
        model = served(name)
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
            "outputs": [
                {"name": "probability", "datatype": "FP64", "shape": [-1]},
                {"name": "label", "datatype": "INT64", "shape": [-1]},
            ],
        }

    @app.get("/v2/models/{name}/ready")
    async def model_ready(name: str) -> dict[str, Any]:
        return {"name": served(name).name, "ready": True}

    @app.post("/v2/models/{name}/infer", dependencies=guarded)
    async def infer(
        name: str, body: payload.InferRequest, x_event_time: EventTimeHeader = None
    ) -> Response:
        """Open Inference Protocol: one input tensor per feature, outputs probability and label."""
        model = served(name)
        records = _records(body.inputs, row_model, settings.max_rows)
        request_id = body.id or uuid.uuid4().hex
        scored = await score(records, request_id, x_event_time)
        rows = len(records)
        return _json(
            {
                "model_name": scored["model_name"],
                "model_version": model.version,
                "id": request_id,
                "outputs": [
                    {
                        "name": "probability",
                        "datatype": "FP64",
                        "shape": [rows],
                        "data": scored["probabilities"].tolist(),
                    },
                    {
                        "name": "label",
                        "datatype": "INT64",
                        "shape": [rows],
                        "data": scored["labels"].tolist(),
                    },
                ],
            }
        )

    @app.post("/admin/reload", dependencies=guarded)
    async def admin_reload() -> dict[str, str]:
        """Load the model again from its source (a new version for a registry source)."""
        try:
            model = await reload()
        except (OSError, ValueError, MlopsError) as error:
            raise HTTPException(
                409, f"reload failed, still serving the old model: {error}"
            ) from None
        return {"name": model.name, "version": model.version, "sha256": model.sha256}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    app.state.collector = collector
    return app


def _oip_type(kind: str, declared: str | None) -> str:
    """The tensor type of an input: numbers FP64, categories as the contract types them."""
    return "FP64" if kind == "numeric" else _OIP_TYPES.get(declared or "str", "BYTES")


def _report_reload(task: asyncio.Future[servable.ServedModel]) -> None:
    """A failed reload by signal keeps the old model; say why in the log."""
    if not task.cancelled() and task.exception() is not None:
        log.error("reload failed, still serving the old model: %s", task.exception())


async def _invalid(_: Request, error: Exception) -> Response:
    """422 naming each field and problem; the offending input is not echoed (it may be NaN,
    which JSON cannot carry, or large)."""
    assert isinstance(error, RequestValidationError)
    problems = [{key: item[key] for key in ("loc", "msg", "type")} for item in error.errors()]
    return _json({"detail": problems}, 422)


def _rows(
    model: servable.ServedModel,
    request_id: str,
    records: Sequence[dict[str, Any]],
    probabilities: np.ndarray,
    labels: np.ndarray,
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
            "outputs": {"probability": float(probability), "label": int(label)},
        }
        for row, (record, probability, label) in enumerate(
            zip(records, probabilities, labels, strict=True)
        )
    ]


def _records(
    inputs: Sequence[payload.InferInput], row_model: type[Any], max_rows: int
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


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the service in this process until it is stopped."""
    threadpool_limits(1)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    token = settings.token or os.environ.get(TOKEN_ENV) or None
    if token is None:
        log.warning(
            "no bearer token ($%s): scoring and reloads are open to anyone who reaches this port",
            TOKEN_ENV,
        )
    app = create_app(replace(settings, token=token))
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
