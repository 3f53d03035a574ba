"""The pull-request comment's charts, drawn in the comment itself: reviewers read the comment,
not the run's artifact.

- Curves: each DVC plot file of the evaluate stage, at the base and in the workspace, resampled
  on one x grid and drawn as two lines of one Mermaid chart, titled with each side's summary.
- Intervals: the gate's evidence (``reports/gate.json``), the candidate-minus-champion
  difference of the primary metric overall and per slice with its interval, as text bars on one
  scale.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlops import git
from mlops.gitops import mermaid
from mlops.markdown import table as markdown_table
from mlops.paths import METRICS_JSON, PLOTS_DIR

BASE, HEAD = "base", "this"
COLOURS = {BASE: "#8c959f", HEAD: "#0969da"}  # GitHub's grey and blue, readable on light and dark
GRID_STEP = 5  # percent: 21 points from 0 to 100 %, a whole step as Mermaid needs


@dataclass(frozen=True)
class Curve:
    """A DVC plot file of rates (0 to 1 on both axes) drawn in percent; ``summary`` names the
    metrics.json number each side's line is titled with, as ``label``."""

    title: str
    path: Path
    x: str
    y: str
    x_title: str
    y_title: str
    summary: str
    label: str


# The binary task's curves (dvc.yaml `plots:`); another task adds its own, e.g. residuals.
CURVES = (
    Curve(
        "ROC",
        PLOTS_DIR / "roc.json",
        "fpr",
        "tpr",
        "false positive rate (%)",
        "true positive rate (%)",
        "roc_auc",
        "AUC",
    ),
    Curve(
        "Precision-recall",
        PLOTS_DIR / "precision_recall.json",
        "recall",
        "precision",
        "recall (%)",
        "precision (%)",
        "pr_auc",
        "AP",
    ),
)


def resample(points: Sequence[dict[str, float]], x: str, y: str, grid: np.ndarray) -> np.ndarray:
    """``y`` at each ``x`` of ``grid``, linear between the file's points (taken in ``x`` order:
    precision-recall runs from recall 1 down to 0)."""
    ordered = sorted(points, key=lambda point: point[x])
    return np.interp(grid, [p[x] for p in ordered], [p[y] for p in ordered])


def _summary(label: str, value: Any) -> str:
    return f"{label} {value:.4f}" if isinstance(value, int | float) else f"{label} unknown"


def curve_chart(
    curve: Curve,
    points: Mapping[str, Sequence[dict[str, float]] | None],
    summaries: Mapping[str, Any],
) -> list[str]:
    """One chart of ``curve``: a line per side that has points (``base``, ``this``)."""
    grid = np.arange(0, 100 + GRID_STEP, GRID_STEP)
    lines = {
        side: (COLOURS[side], list(100 * resample(side_points, curve.x, curve.y, grid / 100)))
        for side, side_points in points.items()
        if side_points
    }
    named = ", ".join(f"{side} {_summary(curve.label, summaries.get(side))}" for side in lines)
    return mermaid.line_chart(
        f"{curve.title}: {named}",
        (curve.x_title, 0, 100),
        (curve.y_title, 0, 100),
        lines,
    )


def _points(text: str | None, curve: Curve) -> list[dict[str, float]] | None:
    """The file's points, or ``None`` when it is absent or written in another form."""
    points = json.loads(text) if text else []
    keys = {curve.x, curve.y}
    ours = isinstance(points, list) and all(
        isinstance(p, dict) and keys <= p.keys() for p in points
    )
    return points if points and ours else None


def curves(base: str, metrics_diff: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Every curve the workspace has, against the same file at ``base`` when it had one."""
    summaries = metrics_diff.get(str(METRICS_JSON), {})
    charts: list[str] = []
    for curve in CURVES:
        head = _points(curve.path.read_text() if curve.path.exists() else None, curve)
        if head is None:
            continue
        points = {BASE: _points(git.show(base, curve.path), curve), HEAD: head}
        entry = summaries.get(curve.summary, {})
        values = {BASE: entry.get("old"), HEAD: entry.get("new")}
        charts += [*curve_chart(curve, points, values), ""]
    if not charts:
        return ["No curves (`dvc plots` files of the evaluate stage)."]
    legend = f"Grey: base (`{base}`), blue: this revision."
    return [legend, "", *charts[:-1]]


BAR_WIDTH = 25
MAX_SLICES = 40  # the worst ones: a comment has room for a few screens, not every slice


def _bar(entry: dict[str, float], low: float, high: float) -> str:
    """The interval as ``[---]``, the difference as ``*`` and zero as ``|``, in ``BAR_WIDTH``
    cells from ``low`` to ``high``."""

    def at(value: float) -> int:
        return round((value - low) / (high - low) * (BAR_WIDTH - 1))

    cells = ["."] * BAR_WIDTH
    start, end = at(entry["low"]), at(entry["high"])
    cells[start : end + 1] = "-" * (end - start + 1)
    cells[at(0.0)] = "|"
    cells[start], cells[end] = "[", "]"
    cells[at(entry["difference"])] = "*"
    return f"`{''.join(cells)}`"


def _estimable(entry: dict[str, Any]) -> bool:
    """Its difference and interval are numbers (a slice with one class has no ROC AUC)."""
    values = [entry.get(key) for key in ("difference", "low", "high")]
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def _side_of_zero(entry: dict[str, float]) -> str:
    if entry["low"] > 0:
        return "above"
    return "below" if entry["high"] < 0 else "spans 0"


def intervals(evidence: dict[str, Any] | None) -> list[str]:
    """The primary metric's difference and each slice's, worst lower bound first; nothing
    when the gate had no champion to compare with."""
    if not evidence:
        return []
    primary, slices = evidence["primary"], evidence.get("slices") or []
    worst = sorted(filter(_estimable, slices), key=lambda entry: entry["low"])[:MAX_SLICES]
    named = [(f"all rows, {primary['metric']}", "", primary)] + [
        (f"{s['column']}={s['value']}", f"{s['rows']:,}", s) for s in worst
    ]
    entries = [item for item in named if _estimable(item[2])]
    if not entries:
        return ["No difference could be estimated (`reports/gate.json`, `evidence`)."]
    low = min(0.0, *(entry["low"] for _, _, entry in entries))
    high = max(0.0, *(entry["high"] for _, _, entry in entries))
    if high == low:
        high = low + 1.0
    level = f"{evidence['level']:.0%}"
    rows = [
        [
            name,
            count,
            f"{entry['difference']:+.4f}",
            f"{entry['low']:+.4f} to {entry['high']:+.4f}",
            _side_of_zero(entry),
            _bar(entry, low, high),
        ]
        for name, count, entry in entries
    ]
    header = ["", "rows", "difference", f"{level} interval", "vs 0", "on one scale"]
    left_out = len(slices) - len(worst)
    return [
        f"Candidate minus champion in {primary['metric']} on the current holdout, {level} "
        f"intervals from {evidence['resamples']:,} resamples (seed {evidence['seed']}). "
        f"Bars share one scale, {low:+.4f} to {high:+.4f}: `[ ]` the interval, `*` the "
        "difference, `|` no difference.",
        "",
        *markdown_table(header, rows, "lrrrll"),
        *(
            ["", f"Not shown: {left_out} of {len(slices)} slices (`reports/gate.json` has all)."]
            if left_out
            else []
        ),
    ]
