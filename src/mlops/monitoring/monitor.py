"""``mlops monitor drift``: collected inputs against the training baseline, window by window.

Each window's features are tested against the reference profile saved with the model (no
training data is reloaded); columns failing a data-quality check are reported as such and left
out of the drift verdict. Retraining is recommended when drift holds in ``k`` of the last ``n``
judged windows and the newest window is free of data problems.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops import artifact
from mlops.config import EvaluateParams, MonitorParams, Params
from mlops.distribution import NUMERIC, Distribution
from mlops.errors import MlopsError
from mlops.monitoring import labels, logs, window_quality
from mlops.monitoring.drift import column_drift, strength
from mlops.monitoring.windows import Summaries, WindowSummary, combine, summarize
from mlops.pipeline import reference
from mlops.progress import track
from mlops.schema import column_contracts
from mlops.serving import cluster
from mlops.task import Task

NO_DRIFT, DRIFT, DATA_QUALITY, TOO_FEW_ROWS = "no_drift", "drift", "data_quality", "too_few_rows"
NO_DATA = "no_data"  # nothing this model scored could be judged: a silent feed is a finding


@dataclass(frozen=True)
class Baseline:
    """What a window is compared with: the model's reference profile and its holdout metrics,
    and what reading its outputs needs: its task, threshold (binary) and classes (multiclass)."""

    features: dict[str, list[str]]
    context: tuple[str, ...]  # slice columns collected beside the inputs
    threshold: float | None
    expected: dict[str, Distribution]
    score: Distribution
    holdout: dict[str, Any] | None
    # What the service calls this model in its logs: its sha256 prefix, or its registry version
    # (the folder `mlops registry fetch` writes, and MLOPS_MODEL_VERSION in the overlays).
    served_as: frozenset[str]
    task: Task = Task.BINARY
    classes: tuple[str, ...] = ()

    @classmethod
    def load(cls, model: Path, holdout_metrics: Path | None) -> Baseline:
        """From the model folder's files: no need to load (or trust) the model itself."""
        metadata = artifact.metadata(model)
        profile = artifact.reference(model)
        holdout = (
            json.loads(holdout_metrics.read_text())
            if holdout_metrics and holdout_metrics.exists()
            else None
        )
        digest = artifact.digest(model)
        task = Task(metadata.get("task", Task.BINARY))  # models made before tasks: binary
        return cls(
            metadata["features"],
            tuple(metadata.get("context", {})),
            float(metadata["threshold"]) if task is Task.BINARY else None,
            reference.distributions(profile),
            Distribution.from_json(profile["score"]),
            holdout,
            frozenset({digest[:12], model.resolve().name}),
            task,
            tuple(metadata.get("classes", ())),
        )


@dataclass(frozen=True)
class Reading:
    """What one pass over the log keeps: per-window summaries, and the rows that got labels."""

    summaries: Summaries
    labelled: list[pd.DataFrame]

    def merge(self, other: Reading) -> Reading:
        """Add ``other`` to this reading (in place) and return it."""
        combine(self.summaries, other.summaries)
        self.labelled.extend(other.labelled)
        return self


def _read_file(url: str, path: str, layout: logs.LogLayout, feedback: pd.DataFrame) -> Reading:
    rows = logs.read(url, path, layout)
    return Reading(summarize(rows, layout), [rows.merge(feedback, on=labels.KEY, how="inner")])


def collect(
    url: str,
    layout: logs.LogLayout,
    scheduler: str | None = None,
    local_cluster: int = 0,
) -> Reading:
    """One pass over the log, file by file here or in parallel on a Dask cluster: memory holds
    a file, the counts, and the labelled rows (no more than the feedback)."""
    paths = logs.files(url)
    if not paths:
        raise MlopsError(f"no collected predictions under {url}")
    feedback = labels.latest_feedback(labels.read_feedback(url, layout.task), layout.task)
    total = Reading({}, [])
    if scheduler is None and local_cluster == 0:
        for path in track(paths, description="Reading the log"):
            total = total.merge(_read_file(url, path, layout, feedback))
        return total
    from dask.distributed import as_completed

    with cluster.client(scheduler, local_cluster) as client:
        shared = client.scatter(feedback, broadcast=True)
        futures = client.map(_read_file, [url] * len(paths), paths, layout=layout, feedback=shared)
        for future in track(as_completed(futures), description="Reading the log on Dask"):
            total = total.merge(future.result())
            future.release()
    return total


def judge_window(
    name: str,
    summary: WindowSummary,
    baseline: Baseline,
    contracts: dict[str, dict[str, Any]],
    settings: MonitorParams,
) -> dict[str, Any]:
    """One window: data quality first, then drift on the columns whose data is sound."""
    expected = baseline.expected
    quality = [
        failure
        for column, current in summary.features.items()
        for failure in window_quality.check_column(
            column, expected[column], current, contracts.get(column, {}), settings.quality
        )
    ]
    unsound = {failure["column"] for failure in quality}
    tests = [
        column_drift(
            column,
            expected[column],
            current,
            settings.columns[column].method if column in settings.columns else settings.method,
            settings.columns[column].threshold if column in settings.columns else None,
        ).to_json()
        for column, current in summary.features.items()
        if column not in unsound
        and column not in settings.ignore
        and current.present
        and expected[column].present
    ]
    drifted = [test["column"] for test in tests if test["drifted"]]
    share = len(drifted) / len(tests) if tests else 0.0
    if summary.rows < settings.min_window_rows:
        status = TOO_FEW_ROWS
    elif quality:
        status = DATA_QUALITY
    else:
        status = DRIFT if share >= settings.drift_share else NO_DRIFT
    return {
        "window": name,
        "rows": summary.rows,
        "start": summary.start.isoformat(),
        "end": summary.end.isoformat(),
        "model_versions": dict(summary.model_versions),
        "status": status,
        "drift_share": round(share, 6),
        "drifted": sorted(drifted, key=lambda c: -_strength_of(tests, c)),
        "columns": tests,
        "score": column_drift("score", baseline.score, summary.score).to_json()
        if summary.score.present
        else None,
        "quality": quality,
    }


def _strength_of(tests: list[dict[str, Any]], column: str) -> float:
    return strength(next(test for test in tests if test["column"] == column))


def newest(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """The newest window with enough rows to judge (the newest one if none has)."""
    return next((w for w in reversed(windows) if w["status"] != TOO_FEW_ROWS), windows[-1])


def decide(windows: list[dict[str, Any]], settings: MonitorParams) -> dict[str, Any]:
    """Retrain when drift holds in k of the last n judged windows and the newest one is sound."""
    judged = [window for window in windows if window["status"] != TOO_FEW_ROWS]
    recent = judged[-settings.retrain.n :]
    drifting = [window["window"] for window in recent if window["status"] == DRIFT]
    rule = f"drift in {settings.retrain.k} of the last {settings.retrain.n} judged windows"
    if not windows:
        status, reason = NO_DATA, "no collected rows were scored by this model"
    elif not judged:
        status = NO_DATA
        reason = f"no window has the {settings.min_window_rows} rows needed to judge it"
    elif recent and recent[-1]["status"] == DATA_QUALITY:
        status = DATA_QUALITY
        reason = f"the newest window ({recent[-1]['window']}) has data-quality failures"
    elif len(drifting) >= settings.retrain.k:
        status = DRIFT
        reason = f"drift in {len(drifting)} of the last {len(recent)} windows: {drifting}"
    else:
        status = NO_DRIFT
        reason = f"drift in {len(drifting)} of the last {len(recent)} windows (needs {rule})"
    return {
        "status": status,
        "retrain": status == DRIFT,
        "rule": rule,
        "reason": reason,
        "drift_windows": drifting,
    }


def run(
    url: str,
    model: Path,
    params: Params,
    schema_file: Path | None,
    holdout_metrics: Path | None = None,
    window: str | None = None,
    scheduler: str | None = None,
    local_cluster: int = 0,
    all_versions: bool = False,
) -> dict[str, Any]:
    """The monitoring report of a log against a model: windows, performance, decision.

    Only rows this model scored count (a model is judged on its own traffic, against its own
    training data), unless ``all_versions``.
    """
    settings = params.monitor
    if window:
        settings = settings.model_copy(update={"window": window})
    baseline = Baseline.load(model, holdout_metrics)
    versions = None if all_versions else baseline.served_as
    layout = logs.LogLayout(
        baseline.features["categorical"],
        baseline.features["numeric"],
        settings.window,
        versions,
        baseline.context,
        baseline.task,
        baseline.classes,
    )
    reading = collect(url, layout, scheduler, local_cluster)
    summaries = reading.summaries
    contracts = column_contracts(schema_file)
    names = sorted(summaries)
    windows = [judge_window(name, summaries[name], baseline, contracts, settings) for name in names]
    plotted = histograms(summaries[newest(windows)["window"]], baseline) if windows else {}
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "log": url,
        "model": str(model),
        "window": settings.window,
        "on": cluster.where(scheduler, local_cluster),
        "settings": settings.model_dump(mode="json"),
        "windows": windows,
        "performance": {
            "holdout": baseline.holdout,
            "windows": live_performance(
                reading.labelled,
                baseline.threshold,
                params.evaluate,
                baseline.task,
                baseline.classes,
            ),
        },
        "decision": decide(windows, settings),
        "newest_window_distributions": plotted,
    }


def live_performance(
    labelled: list[pd.DataFrame],
    threshold: float | None,
    evaluate: EvaluateParams,
    task: Task = Task.BINARY,
    classes: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Metrics of each window with labelled rows; scikit-learn's metrics, slow to import, are
    loaded only when feedback came."""
    rows = pd.concat(labelled, ignore_index=True)
    if rows.empty:
        return []
    from mlops.monitoring import performance

    return performance.by_window(
        rows,
        performance.Outputs(task, threshold, classes),
        evaluate.slices,
        evaluate.min_slice_rows,
    )


def histograms(
    summary: WindowSummary, baseline: Baseline, bins: int = 20, top: int = 15
) -> dict[str, dict[str, Any]]:
    """Every feature's reference and current shares per bin (numeric) or category (the most
    common), to plot, and each side's missing share. A side without values has no shares
    (``None``): a dead feed is shown as all missing, never as bars."""
    plotted = {}
    for column, current in summary.features.items():
        sides = (baseline.expected[column], current)
        labels, shares = (
            _numeric_bins(sides, bins) if current.kind == NUMERIC else _categories(sides, top)
        )
        plotted[column] = {
            "kind": current.kind,
            "bins": labels,
            "reference": shares[0],
            "current": shares[1],
            "missing": [round(side.missing / max(side.count, 1), 6) for side in sides],
        }
    return plotted


Shares = tuple[list[str], list[list[float] | None]]


def _numeric_bins(sides: tuple[Distribution, Distribution], bins: int) -> Shares:
    """Equal-width bins over both sides' values."""
    held = [side for side in sides if side.present]
    if not held:
        return [], [None, None]
    low = min(side.values[0] for side in held)
    high = max(side.values[-1] for side in held)
    edges = np.linspace(low, high if high > low else low + 1, bins + 1)
    return [f"{edge:.4g}" for edge in edges[:-1]], _per_side(
        sides, lambda side: np.histogram(side.values, edges, weights=side.counts)[0]
    )


def _categories(sides: tuple[Distribution, Distribution], top: int) -> Shares:
    """The reference's most common categories (the window's, if the reference has none)."""
    held = next((side for side in sides if side.present), None)
    if held is None:
        return [], [None, None]
    labels = held.values[np.argsort(-held.counts)[:top]].tolist()
    return labels, _per_side(
        sides, lambda side: np.array([side.frequencies().get(label, 0) for label in labels])
    )


def _per_side(
    sides: tuple[Distribution, Distribution], counts: Callable[[Distribution], np.ndarray]
) -> list[list[float] | None]:
    """Each side's share of its values per bin, or ``None`` for a side without values."""
    return [
        np.round(counts(side) / side.present, 6).tolist() if side.present else None
        for side in sides
    ]
