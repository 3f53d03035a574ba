"""The service's Prometheus metrics, and the ASGI layer that counts requests and caps bodies.

Each app gets its own registry, so several apps (tests, reloads) never share counters.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    generate_latest,
)

from mlops.task import Predictions, Task

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SCORE_BUCKETS = tuple(step / 10 for step in range(1, 11))


class Metrics:
    def __init__(self, queued: Callable[[], float], dropped: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "mlops_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "mlops_request_seconds",
            "Time from request to response",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scores = Histogram(
            "mlops_prediction_score",
            "Predicted probabilities of the positive class (binary models)",
            buckets=_SCORE_BUCKETS,
            registry=self.registry,
        )
        self.classes = Counter(
            "mlops_predicted_class",
            "Rows predicted as each class (multiclass models)",
            ["class"],
            registry=self.registry,
        )
        self.values = Summary(
            "mlops_predicted_value",
            "Predicted values (regression models)",
            registry=self.registry,
        )
        self.model = Gauge(
            "mlops_model_info",
            "The model being served (value 1)",
            ["name", "version", "sha256", "fast_path"],
            registry=self.registry,
        )
        queue = Gauge(
            "mlops_collector_queue_rows", "Rows waiting to be collected", registry=self.registry
        )
        queue.set_function(queued)
        lost = Gauge(
            "mlops_collector_dropped_rows",
            "Rows the collector dropped (queue full or storage failed), since start",
            registry=self.registry,
        )
        lost.set_function(dropped)
        # Each (route, status)'s children, looked up once: ``labels`` takes a lock and checks
        # its arguments on every call, twice per request otherwise.
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def request(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its time, by route template and status."""
        children = self._children.get((route, status))
        if children is None:
            children = (self.requests.labels(route, str(status)), self.latency.labels(route))
            self._children[route, status] = children
        children[0].inc()
        children[1].observe(seconds)

    def scored(self, predicted: Predictions) -> None:
        """Count what the model said: each binary probability in the score histogram, each
        predicted class, or each value in the value summary."""
        if predicted.task is Task.MULTICLASS:
            for name in predicted.decisions():
                self.classes.labels(name).inc()
            return
        observe = self.scores.observe if predicted.task is Task.BINARY else self.values.observe
        for value in predicted.values.tolist():
            observe(value)

    def serving(self, name: str, version: str, sha256: str, fast: bool) -> None:
        """Point the model info at the model now served."""
        self.model.clear()
        self.model.labels(name, version, sha256, str(fast).lower()).set(1)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class Observe:
    """Counts every request by route template and status, times it, and caps body size."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if self._declared_length(scope) > self.max_body_bytes:
                await self._too_large(sending)
            else:
                await self.app(scope, self._capped(receive), sending)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.request(template, status, time.perf_counter() - started)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for key, value in scope["headers"]:
            if key == b"content-length":
                return int(value) if value.isdigit() else 0
        return 0

    def _capped(self, receive: Receive) -> Receive:
        """Counts streamed bytes too: a chunked body without a length is capped the same."""
        received = 0

        async def receiving() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise HTTPException(413, f"request body over {self.max_body_bytes} bytes")
            return message

        return receiving

    async def _too_large(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body over {self.max_body_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
