"""What the service's routes depend on: the state the app holds, the bearer check, the model a
route names, and the headers a request may carry.

Every dependency is a coroutine: FastAPI runs a plain function in its thread pool, and that hop
cost more than the check itself (about 0.1 ms a request, and a thread taking the GIL).
"""

# No ``from __future__ import annotations``: FastAPI reads these annotations at run time.
import asyncio
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

import pandas as pd
from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import HTTPBearer
from pydantic import AfterValidator, AwareDatetime, BaseModel

from mlops.serving import payload
from mlops.serving.collector import Collector
from mlops.serving.servable import ServedModel
from mlops.serving.telemetry import Metrics

log = logging.getLogger(__name__)
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


RequestIdHeader = Annotated[str | None, Header(max_length=payload.REQUEST_ID_LENGTH)]
# When the scored rows happened (ISO 8601 with a zone), if not now: replays and backfills.
# Monitoring windows and retraining data are by this time; collection time is kept beside it.
EventTimeHeader = Annotated[Annotated[AwareDatetime, AfterValidator(_in_utc)] | None, Header()]


@dataclass
class ServiceState:
    """One app's state (``app.state.service``): the model now served and what every request
    uses. A reload swaps ``model`` whole, so a request that read it once sees one model."""

    model: ServedModel
    load: Callable[[], ServedModel]  # the model again from its source (a new version, maybe)
    metrics: Metrics
    collector: Collector | None
    row_model: type[BaseModel]  # one input row, generated from the first model's features
    max_rows: int
    token: str | None
    reloading: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def reload(self) -> ServedModel:
        """Load off the event loop while the old model answers, then swap it in."""
        async with self.reloading:
            new = await asyncio.to_thread(self.load)
            if new.interface != self.model.interface:
                raise ValueError("the new model takes other inputs: deploy it as a new service")
            self.model = new
            self.metrics.serving(new.name, new.version, new.sha256, new.fast is not None)
            log.info("now serving %s version %s", new.name, new.version)
            return new


async def service_state(request: Request) -> ServiceState:
    """The state ``create_app`` put on the app."""
    state: ServiceState = request.app.state.service
    return state


class BearerState(HTTPBearer):
    """The service's state, for a caller with its bearer token when it has one (a 401 else).

    An ``HTTPBearer``, so OpenAPI shows the scheme, that also checks the token (in constant
    time) and returns the state: one dependency for FastAPI to solve on each request where a
    check depending on ``HTTPBearer`` made two, each about 15 us.
    """

    async def __call__(self, request: Request) -> ServiceState:  # type: ignore[override]
        state = await service_state(request)
        if state.token is None:
            return state
        credentials = await super().__call__(request)
        if credentials is None or not hmac.compare_digest(
            credentials.credentials.encode(), state.token.encode()
        ):
            raise HTTPException(
                401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        return state


State = Annotated[ServiceState, Depends(service_state)]
BEARER = BearerState(
    scheme_name="HTTPBearer",  # OpenAPI's name for it, as before it checked tokens itself
    description="$MLOPS_API_TOKEN, when the service has one",
    auto_error=False,
)
AuthorizedState = Annotated[ServiceState, Depends(BEARER)]


async def named_model(name: str, state: State) -> ServedModel:
    """The model served, if the path names it (Open Inference Protocol routes); else a 404."""
    model = state.model
    if name != model.name:
        raise HTTPException(404, f"no model named {name!r}; this service has {model.name!r}")
    return model


NamedModel = Annotated[ServedModel, Depends(named_model)]
