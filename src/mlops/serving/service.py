"""The model service, ``mlops serve``: its settings, the app assembled from the routes
(``routes.py``) and their dependencies (``dependencies.py``), and the process that runs it.

One process serves one model and scales by replicas; scikit-learn's OpenMP pool is held to one
thread, since a second thread competing for a busy core makes every call many times slower.
A reload loads the new model off the event loop and swaps one reference, so each request is
answered wholly by the old model or wholly by the new one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from threadpoolctl import threadpool_limits

from mlops import gc_pace
from mlops.serving import payload, routes, servable
from mlops.serving.collector import Collector
from mlops.serving.dependencies import ServiceState
from mlops.serving.telemetry import Metrics, Observe

# How long an idle client connection stays open: longer than the proxies in front keep theirs
# (ingress-nginx 60 s, cloud load balancers 60 s). With uvicorn's 5 s, a client that paused
# (a busy machine, a proxy's pooled connection) sent its next request as the server closed
# the socket, and that request failed with "Server disconnected without sending a response".
KEEP_ALIVE_S = 75

log = logging.getLogger(__name__)
TOKEN_ENV = "MLOPS_API_TOKEN"


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


def create_app(settings: Settings) -> FastAPI:
    """The service for one model; the model loads before the app is built."""
    load = partial(servable.load, settings.source, settings.expected_sha256, settings.parity_data)
    model = load()
    collector = (
        Collector(settings.collector_url, settings.sample_rate) if settings.collector_url else None
    )
    metrics = Metrics(
        queued=lambda: collector.queued if collector else 0,
        dropped=lambda: collector.dropped if collector else 0,
    )
    metrics.serving(model.name, model.version, model.sha256, model.fast is not None)
    row_model = payload.row_model(
        model.features,
        settings.schema_file,
        model.missing_in_training,
        model.input_types,
        model.context,
    )
    app = FastAPI(title="mlops model service", lifespan=_lifespan)
    app.state.service = ServiceState(
        model, load, metrics, collector, row_model, settings.max_rows, settings.token
    )
    app.add_exception_handler(RequestValidationError, routes.invalid_request)
    app.add_middleware(Observe, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    request = payload.predict_request(row_model, settings.max_rows)
    app.include_router(routes.predict_router(request, model.artifact.task))
    app.include_router(routes.feedback_router(model.artifact.task))
    app.include_router(routes.router)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Reloads on SIGHUP while serving; the collector writes what it holds on the way out."""
    state: ServiceState = app.state.service
    loop = asyncio.get_running_loop()

    def reload_on_signal() -> None:
        asyncio.ensure_future(state.reload()).add_done_callback(_report_reload)

    loop.add_signal_handler(signal.SIGHUP, reload_on_signal)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        if state.collector:
            await asyncio.to_thread(state.collector.close)


def _report_reload(task: asyncio.Future[servable.ServedModel]) -> None:
    """A failed reload by signal keeps the old model; say why in the log."""
    if not task.cancelled() and task.exception() is not None:
        log.error("reload failed, still serving the old model: %s", task.exception())


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
    gc_pace.for_service()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
    )
