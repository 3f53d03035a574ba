"""``mlops deploy wait``: after a release pins a model to an overlay, wait until it is served.

The GitOps controller applies the pin some time after the commit, so until then the URL answers
with the old model, or not at all while pods roll; a smoke test run at once would check the old
one. The service reports the model it serves in ``/metrics`` (``mlops_model_info``: version and
the folder's sha256, ``artifact.digest``): one read for both, swapped with the model on a reload,
open to probes. Both must match: the same version with other bytes is another model.

Behind a Kubernetes Service each poll reaches one pod, and mid-rollout some pods still run the
old model: one matching answer does not mean the rollout is done. The wait returns only after
``settled`` polls in a row saw the pinned model. Each poll reaches a pod the Service picks, so
the confirming polls need no long pause between them: after a match they come every
``CONFIRM_INTERVAL_S``, and a release whose model is already served waits seconds, not
``settled`` intervals.
"""

from __future__ import annotations

import sys
import time
from typing import Any, NamedTuple

from prometheus_client.parser import text_string_to_metric_families

from mlops import http
from mlops.errors import MlopsError

MODEL_INFO = "mlops_model_info"
REQUEST_TIMEOUT_S = 10.0
SETTLED_POLLS = 3
CONFIRM_INTERVAL_S = 1.0


class Served(NamedTuple):
    version: str
    sha256: str


def served(base_url: str, token: str | None = None, timeout: float = REQUEST_TIMEOUT_S) -> Served:
    """The model the service at ``base_url`` says it serves; an ``MlopsError`` when it does not
    answer, or answers without a model (another service at that address)."""
    url = f"{base_url.rstrip('/')}/metrics"
    text = http.request_json(url, headers=http.bearer(token), timeout=timeout)
    try:
        families = list(text_string_to_metric_families(text if isinstance(text, str) else ""))
    except ValueError:  # not Prometheus text: something else answers there
        families = []
    for family in families:
        for sample in family.samples:
            if sample.name == MODEL_INFO and sample.value == 1:
                return Served(sample.labels["version"], sample.labels["sha256"])
    raise MlopsError(f"{url}: no {MODEL_INFO} (not an mlops model service?)")


def wait_for_rollout(
    url: str,
    version: str,
    model_sha256: str,
    *,
    timeout: float,
    interval: float,
    token: str | None = None,
    settled: int = SETTLED_POLLS,
) -> dict[str, Any]:
    """Poll every ``interval`` seconds (every ``CONFIRM_INTERVAL_S`` once one matched) until
    ``settled`` polls in a row saw the service serve ``version`` with the folder hash
    ``model_sha256``, one line per poll on stderr (what it saw), and return what it serves.

    After ``timeout`` seconds an ``MlopsError`` names what was expected and what was last seen.
    """
    base = url.rstrip("/")
    wanted = Served(version, model_sha256.lower())
    started = time.monotonic()
    deadline = started + timeout
    in_a_row = 0
    while True:
        request_timeout = min(REQUEST_TIMEOUT_S, max(deadline - time.monotonic(), 1.0))
        seen: Served | None = None
        try:
            seen = served(base, token, request_timeout)
            last = f"version {seen.version} sha256 {seen.sha256}"
        except MlopsError as error:
            last = f"unreachable: {error}"
        waited = time.monotonic() - started
        in_a_row = in_a_row + 1 if seen == wanted else 0
        print(
            f"rollout: {waited:.1f} s: {last}" + (f" ({in_a_row}/{settled})" if in_a_row else ""),
            file=sys.stderr,
            flush=True,
        )
        if in_a_row >= settled:
            return {
                "url": base,
                "model_version": version,
                "model_sha256": wanted.sha256,
                "seconds": round(waited, 1),
            }
        pause = min(interval, CONFIRM_INTERVAL_S) if in_a_row else interval
        if time.monotonic() + pause > deadline:
            raise MlopsError(
                f"{base} did not serve version {version} sha256 {wanted.sha256} "
                f"within {timeout:g} s; last seen: {last}"
            )
        time.sleep(pause)
