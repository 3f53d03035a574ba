"""Replay rows as production traffic: one request per hour of event time, over HTTP.

Each request carries ``X-Event-Time`` (when its rows happened), so the service's collection,
monitoring windows and retraining data follow the data's calendar, not the replay's clock.
With ``feedback`` the true labels are sent back afterwards, as they would arrive in production.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from pathlib import Path
from typing import Any, cast

import pandas as pd

from mlops import http
from mlops.columns import LABEL
from mlops.config import Params
from mlops.data import validate
from mlops.paths import CLEAN_DIR
from mlops.progress import track
from project import features
from project.sources import load_source

TIMEOUT_S = 60


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return http.request_json(url, body, headers, timeout=TIMEOUT_S, what=f"replay: {url}")


def _records(rows: pd.DataFrame, features: list[str]) -> list[dict[str, Any]]:
    """JSON-ready rows: missing values as null, numbers as floats, categories as text."""
    return json.loads(rows[features].to_json(orient="records"))


def replay(
    base_url: str,
    frame: pd.DataFrame,
    features: list[str],
    time_column: str,
    feedback: bool = True,
    token: str | None = None,
    requests_per_second: float = 0.0,
) -> dict[str, Any]:
    """Send ``frame``'s rows hour by hour (at most ``requests_per_second`` scoring requests,
    0: as fast as the service answers); returns rows sent, requests, scores and versions."""
    headers = http.bearer(token)
    base = base_url.rstrip("/")
    served: list[pd.DataFrame] = []
    versions: set[str] = set()
    hours = frame.groupby(frame[time_column].dt.floor("h"), sort=True)
    pace = 1.0 / requests_per_second if requests_per_second > 0 else 0.0
    for hour, rows in track(hours, description="Replaying"):
        started = time.monotonic()
        answer = _post(
            f"{base}/predict",
            {"records": _records(rows, features)},
            {**headers, "X-Event-Time": hour.isoformat()},
        )
        versions.add(answer["model_version"])
        scored = pd.DataFrame(
            {
                "request_id": answer["request_id"],
                "row": range(len(rows)),
                "probability": [p["probability"] for p in answer["predictions"]],
            },
            index=rows.index,
        )
        served.append(scored)
        if feedback:
            for row, label in enumerate(rows[LABEL].astype(int)):
                _post(
                    f"{base}/feedback",
                    {"request_id": answer["request_id"], "row": row, "label": label},
                    headers,
                )
        time.sleep(max(0.0, pace - (time.monotonic() - started)))
    scores = pd.concat(served) if served else pd.DataFrame(columns=["probability"])
    return {
        "rows": len(scores),
        "requests": len(served),
        "model_versions": sorted(versions),
        "scores": scores["probability"],
    }


def featurized_months(
    folder: Path, params: Params, months: list[str], every: int, schema_file: Path
) -> pd.DataFrame:
    """The model frame of ``months`` (every n-th row), from the source, validated like the
    pipeline validates: what the traffic of those months looks like to the service."""
    source = load_source(cast(str, params.data.source))  # lifecycle.run refuses one without
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(schema_file, folder / "schema.yaml")
    for month in months:
        source.write_month(month, folder / params.data.dir, every=every)
    with contextlib.chdir(folder):  # the stage writes its outputs under the working directory
        validate.run(params, Path("schema.yaml"))
        tables = {p.stem: pd.read_parquet(p) for p in CLEAN_DIR.glob("*.parquet")}
    return features.build(tables, params)
