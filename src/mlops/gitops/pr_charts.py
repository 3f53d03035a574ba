"""The pull-request comment's charts, drawn in the comment itself: reviewers read the comment,
not the run's artifact. Each task draws what its evaluate stage writes (``task.of_metrics``
tells the task from metrics.json); a file a revision lacks is left out, never required.

- Binary, curves: each DVC plot file of the evaluate stage (ROC, precision-recall), at the base
  and in the workspace, resampled on one x grid and drawn as two lines of one Mermaid chart,
  titled with each side's summary.
- Regression, errors by prediction: Mermaid draws lines on an even x-axis, not a scatter, so the
  sampled rows of ``residuals.json`` and ``predicted_vs_actual.json`` (in order of the
  prediction) are cut into equal groups and each group's mean is drawn: the mean residual of
  base and head, and the head's mean predicted and mean actual value.
- Multiclass, classes: each class's one-vs-rest ROC AUC (metrics.json ``roc_auc[<class>]``) as
  bars of the head with the base as a line, and the head's confusion counts as a table.
- Intervals: the gate's evidence (``reports/gate.json``), the candidate's gain over the champion
  in the primary metric overall and per slice with its interval, as text bars on one scale.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops import git
from mlops.gitops import mermaid
from mlops.markdown import table as markdown_table
from mlops.paths import METRICS_JSON, PLOTS_DIR
from mlops.task import Task, lower_is_better, per_class_auc

BASE, HEAD = "base", "this"
COLOURS = {BASE: "#8c959f", HEAD: "#0969da"}  # GitHub's grey and blue, readable on light and dark
ORANGE = "#bc4c00"  # a third colour, for a line that is neither side
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


# The binary task's curves (dvc.yaml `plots:`).
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


def _points(text: str | None, keys: set[str]) -> list[dict[str, float]] | None:
    """The file's points, or ``None`` when it is absent or written in another form."""
    points = json.loads(text) if text else []
    ours = isinstance(points, list) and all(
        isinstance(p, dict) and keys <= p.keys() for p in points
    )
    return points if points and ours else None


def _sides(path: Path, base: str, keys: set[str]) -> dict[str, list[dict[str, float]]]:
    """The plot file's points in the workspace and at ``base``, for the sides that have them;
    nothing when the workspace has none."""
    head = _points(path.read_text() if path.exists() else None, keys)
    if head is None:
        return {}
    return {
        side: points
        for side, points in ((BASE, _points(git.show(base, path), keys)), (HEAD, head))
        if points
    }


def _legend(base: str) -> list[str]:
    return [f"Grey: base (`{base}`), blue: this revision."]


def _joined(blocks: Sequence[list[str]]) -> list[str]:
    """Blocks of lines (charts, tables, sentences) with a blank line between each two."""
    return [line for number, block in enumerate(blocks) for line in ([""] * bool(number) + block)]


def curves(base: str, metrics_diff: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Every curve the workspace has, against the same file at ``base`` when it had one."""
    summaries = metrics_diff.get(str(METRICS_JSON), {})
    charts = []
    for curve in CURVES:
        points = _sides(curve.path, base, {curve.x, curve.y})
        if points:
            entry = summaries.get(curve.summary, {})
            values = {BASE: entry.get("old"), HEAD: entry.get("new")}
            charts.append(curve_chart(curve, points, values))
    if not charts:
        return ["No curves (`dvc plots` files of the evaluate stage)."]
    return _joined([_legend(base), *charts])


GROUPS = 10  # a regression's sampled rows (200 by default), by prediction, cut into this many


def _group_means(points: Sequence[dict[str, float]], key: str, groups: int) -> list[float]:
    """The mean of ``key`` in each of ``groups`` equal groups of the points by prediction."""
    ordered = sorted(points, key=lambda point: point["predicted"])
    values = np.array([point[key] for point in ordered], dtype=float)
    return [float(group.mean()) for group in np.array_split(values, groups)]


def _y_axis(
    title: str, lines: Mapping[str, Sequence[float]], zero: bool
) -> tuple[tuple[str, float, float], int]:
    """An axis around every value (and 0 when ``zero``) in round steps of about a tenth of the
    span, and the decimals that show a step."""
    values = [value for line in lines.values() for value in line] + ([0.0] if zero else [])
    low, high = min(values), max(values)
    power = math.floor(math.log10((high - low) or abs(high) or 1.0)) - 1
    step = 10.0**power
    bottom, top = math.floor(low / step) * step, math.ceil(high / step) * step
    return (title, bottom, max(top, bottom + step)), max(1, 1 - power)


def regression(base: str, metrics_diff: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """A regression's errors by prediction: the mean residual of each group of rows, base and
    head, and the head's mean predicted against mean actual value."""
    rmse = metrics_diff.get(str(METRICS_JSON), {}).get("rmse", {})
    residuals = _sides(PLOTS_DIR / "residuals.json", base, {"predicted", "residual"})
    versus = _sides(PLOTS_DIR / "predicted_vs_actual.json", base, {"predicted", "actual"})
    counts = [len(points) for points in (*residuals.values(), *versus.values())]
    groups = min(GROUPS, *counts) if counts else 0
    if groups < 2:
        return ["No errors to draw (`reports/plots/residuals.json`, `predicted_vs_actual.json`)."]
    x_axis = (f"{groups} equal groups of rows, lowest prediction first", 1, groups)
    blocks = []
    if residuals:
        means = {side: _group_means(rows, "residual", groups) for side, rows in residuals.items()}
        summary = {BASE: rmse.get("old"), HEAD: rmse.get("new")}
        named = ", ".join(f"{side} {_summary('RMSE', summary[side])}" for side in means)
        title = f"Mean residual (actual - predicted; 0 is unbiased) per group: {named}"
        y_axis, decimals = _y_axis("mean residual", means, zero=True)
        lines = {side: (COLOURS[side], values) for side, values in means.items()}
        blocks += [_legend(base), mermaid.line_chart(title, x_axis, y_axis, lines, decimals)]
    if HEAD in versus:
        means = {key: _group_means(versus[HEAD], key, groups) for key in ("predicted", "actual")}
        title = "Predicted (orange) against actual (blue), this revision: each group's means"
        y_axis, decimals = _y_axis("mean value", means, zero=False)
        lines = {
            "predicted": (ORANGE, means["predicted"]),
            "actual": (COLOURS[HEAD], means["actual"]),
        }
        blocks.append(mermaid.line_chart(title, x_axis, y_axis, lines, decimals))
    return _joined(blocks)


def confusion_table(path: Path) -> list[str]:
    """A classifier's confusion counts from ``confusion.csv`` (a row per holdout row)."""
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    counts = pd.crosstab(rows["actual"], rows["predicted"])
    classes = sorted(set(counts.index) | set(counts.columns))
    counts = counts.reindex(index=classes, columns=classes, fill_value=0)
    table = [[name, *(f"{count:,}" for count in counts.loc[name])] for name in classes]
    header = ["actual", *classes]
    return markdown_table(header, table, "l" + "r" * len(classes))


def classes(base: str, metrics_diff: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """A multiclass model's classes: each one's ROC AUC against the rest, head as bars and base
    as a line, then the head's confusion counts."""
    summaries = metrics_diff.get(str(METRICS_JSON), {})
    per_class = {
        name: entry
        for name, entry in sorted(per_class_auc(summaries).items())
        if entry.get("new") is not None
    }
    blocks = []
    if per_class:
        overall = summaries.get("roc_auc_ovr", {})
        named = f"bars this revision ({_summary('mean', overall.get('new'))})"
        base_line = None
        if all(entry.get("old") is not None for entry in per_class.values()):
            old = [float(entry["old"]) for entry in per_class.values()]
            base_line = (BASE, COLOURS[BASE], old)
            named += f", line base ({_summary('mean', overall.get('old'))})"
        chart = mermaid.bar_chart(
            f"ROC AUC of each class against the rest: {named}",
            list(per_class),
            ("ROC AUC", 0.0, 1.0),
            (HEAD, COLOURS[HEAD], [float(entry["new"]) for entry in per_class.values()]),
            base_line,
            decimals=4,
        )
        blocks.append(chart)
    confusion = PLOTS_DIR / "confusion.csv"
    if confusion.exists():
        blocks.append(
            [
                "Confusion counts on the holdout, this revision: a row per actual class, a "
                "column per predicted class.",
                "",
                *confusion_table(confusion),
            ]
        )
    return _joined(blocks)


def charts(task: Task, base: str, metrics_diff: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The task's charts of the workspace against ``base``."""
    draw = {Task.BINARY: curves, Task.REGRESSION: regression, Task.MULTICLASS: classes}[task]
    return draw(base, metrics_diff)


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
    order = (
        "Champion minus candidate"
        if lower_is_better(primary["metric"])
        else "Candidate minus champion"
    )
    return [
        f"{order} in {primary['metric']} on the current holdout, {level} "
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
