"""The monitoring report: JSON for machines, markdown for issues and pull requests, and a
self-contained HTML page with plots (distributions, drift over windows, metrics over windows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from mlops.markdown import table as markdown_table
from mlops.monitoring import html_report
from mlops.monitoring.monitor import newest
from mlops.tables import write_json, write_text

SHOWN_DRIFTED = 3


def _top(window: dict[str, Any]) -> str:
    return ", ".join(window["drifted"][:SHOWN_DRIFTED]) or "-"


def _live(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["window"]: entry["metrics"] for entry in report["performance"]["windows"]}


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[list[str]]:
    return [header, *[[_number(cell) for cell in row] for row in rows]]


def _window_rows(report: dict[str, Any]) -> list[list[str]]:
    live = _live(report)
    return _table(
        ["window", "rows", "status", "drift share", "most drifted", "quality failures", "ROC AUC"],
        [
            [
                window["window"],
                window["rows"],
                window["status"],
                window["drift_share"],
                _top(window),
                len(window["quality"]),
                live.get(window["window"], {}).get("roc_auc", "-"),
            ]
            for window in report["windows"]
        ],
    )


def _column_rows(window: dict[str, Any]) -> list[list[str]]:
    tests = [*window["columns"], *([window["score"]] if window["score"] else [])]
    return _table(
        ["column", "method", "score", "threshold", "drifted"],
        [
            [test["column"], test["method"], test["score"], test["threshold"], test["drifted"]]
            for test in tests
        ],
    )


def _quality_rows(report: dict[str, Any]) -> list[list[str]]:
    return _table(
        ["window", "column", "check", "value", "limit", "examples"],
        [
            [
                window["window"],
                *(failure[key] for key in ("column", "check", "value", "limit")),
                ", ".join(map(str, failure["examples"])),
            ]
            for window in report["windows"]
            for failure in window["quality"]
        ],
    )


def _sections(report: dict[str, Any]) -> list[tuple[str, list[list[str]]]]:
    if not report["windows"]:
        return []
    judged = newest(report["windows"])
    sections = [
        ("Windows", _window_rows(report)),
        (f"Newest judged window ({judged['window']}): per column", _column_rows(judged)),
    ]
    quality = _quality_rows(report)
    if len(quality) > 1:
        sections.append(("Data-quality failures (not counted as drift)", quality))
    return sections


def summary(report: dict[str, Any]) -> str:
    decision = report["decision"]
    verb = "retrain recommended" if decision["retrain"] else "no retraining"
    return f"monitoring: {decision['status']} ({verb}): {decision['reason']}"


def markdown(report: dict[str, Any]) -> str:
    parts = [
        "## Model monitoring",
        f"**{summary(report)}**",
        f"Log `{report['log']}`, model `{report['model']}`, window `{report['window']}`, "
        f"rule: {report['decision']['rule']}.",
    ]
    for title, rows in _sections(report):
        parts += [f"### {title}", "\n".join(markdown_table(rows[0], rows[1:]))]
    holdout = report["performance"]["holdout"]
    if holdout and report["performance"]["windows"]:
        parts.append(f"Holdout ROC AUC of the model: {holdout['roc_auc']:.4f}.")
    return "\n\n".join(parts) + "\n"


def alert_text(report: dict[str, Any]) -> str:
    if not report["windows"]:
        return f"{summary(report)}\nLog: {report['log']}"
    judged = newest(report["windows"])
    return (
        f"{summary(report)}\nNewest window {judged['window']}: {judged['status']}, "
        f"drift share {judged['drift_share']:.2f}, most drifted: {_top(judged)}. "
        f"Log: {report['log']}"
    )


def _distribution_figure(report: dict[str, Any]) -> plt.Figure:
    plotted = report["newest_window_distributions"]
    columns = 4
    lines = max(1, -(-len(plotted) // columns))
    figure, axes = plt.subplots(lines, columns, figsize=(16, 3 * lines), squeeze=False)
    for axis, (name, data) in zip(axes.flat, plotted.items(), strict=False):
        positions = np.arange(len(data["bins"]))
        axis.bar(positions - 0.2, data["reference"], 0.4, label="reference")
        axis.bar(positions + 0.2, data["current"], 0.4, label="current")
        axis.set_xticks(positions[:: max(1, len(positions) // 5)])
        axis.set_xticklabels(data["bins"][:: max(1, len(positions) // 5)], fontsize=7)
        axis.set_title(name)
    for axis in axes.flat[len(plotted) :]:
        axis.axis("off")
    axes.flat[0].legend()
    figure.suptitle(f"Newest window {newest(report['windows'])['window']} against the reference")
    figure.tight_layout()
    return figure


def _drift_figure(report: dict[str, Any]) -> plt.Figure:
    windows = report["windows"]
    names = [window["window"] for window in windows]
    figure, (scores, share) = plt.subplots(2, 1, figsize=(12, 8), sharex=True)
    columns = sorted({test["column"] for window in windows for test in window["columns"]})
    for column in columns:
        ratio = [
            next((t["score"] / t["threshold"] for t in w["columns"] if t["column"] == column), None)
            for w in windows
        ]
        scores.plot(names, [np.nan if r is None else r for r in ratio], marker=".", label=column)
    scores.axhline(1.0, color="red", linestyle=":")
    scores.set(title="Drift score / threshold per feature (>= 1: drifted)", yscale="symlog")
    scores.legend(fontsize=7, ncol=4)
    share.plot(names, [window["drift_share"] for window in windows], marker="o")
    share.axhline(report["settings"]["drift_share"], color="red", linestyle=":")
    share.set(title="Share of drifted features", ylim=(0, 1))
    share.tick_params(axis="x", rotation=45)
    figure.tight_layout()
    return figure


def _performance_figure(report: dict[str, Any]) -> plt.Figure:
    live = report["performance"]["windows"]
    figure, axis = plt.subplots(figsize=(12, 4))
    names = [entry["window"] for entry in live]
    for metric in ("roc_auc", "pr_auc", "f1"):
        axis.plot(names, [entry["metrics"][metric] for entry in live], marker="o", label=metric)
    holdout = report["performance"]["holdout"]
    if holdout:
        axis.axhline(holdout["roc_auc"], color="grey", linestyle=":", label="holdout ROC AUC")
    axis.set(title="Live metrics per window (labelled rows)", ylim=(0, 1))
    axis.legend()
    axis.tick_params(axis="x", rotation=45)
    figure.tight_layout()
    return figure


def page(report: dict[str, Any]) -> str:
    """The HTML report: one file, plots embedded, readable without a server."""
    figures = [_distribution_figure(report), _drift_figure(report)] if report["windows"] else []
    if report["performance"]["windows"]:
        figures.append(_performance_figure(report))
    return html_report.page("Model monitoring", summary(report), figures, _sections(report))


def write(report: dict[str, Any], folder: Path) -> None:
    """``drift.json``, ``drift.md`` and ``drift.html`` in ``folder``."""
    write_json(folder / "drift.json", report)
    write_text(folder / "drift.md", markdown(report))
    write_text(folder / "drift.html", page(report))
