"""The monitoring report: JSON for machines, markdown for issues and pull requests, and a
self-contained HTML page with inline SVG charts (the newest window's distributions, drift per
feature and window, the share of drifted features, live metrics per window)."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from mlops.distribution import NUMERIC
from mlops.markdown import table as markdown_table
from mlops.monitoring import html_report
from mlops.monitoring.drift import strength
from mlops.monitoring.monitor import TOO_FEW_ROWS, newest
from mlops.tables import write_json, write_text
from mlops.task import METRICS, PRIMARY, Task, of_metrics

SHOWN_DRIFTED = 3
TITLES = {"roc_auc": "ROC AUC", "macro_f1": "macro F1", "r2": "R2"}  # the primary metrics'


def _top(window: dict[str, Any]) -> str:
    return ", ".join(window["drifted"][:SHOWN_DRIFTED]) or "-"


def _live(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["window"]: entry["metrics"] for entry in report["performance"]["windows"]}


def _task(report: dict[str, Any]) -> Task:
    """The model's task, told by its metrics, live or holdout (binary if it has none)."""
    known = [*_live(report).values(), report["performance"]["holdout"] or {}]
    return next((task for metrics in known if (task := of_metrics(metrics))), Task.BINARY)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[list[str]]:
    return [header, *[[_number(cell) for cell in row] for row in rows]]


def _window_rows(report: dict[str, Any]) -> list[list[str]]:
    live, primary = _live(report), PRIMARY[_task(report)]
    header = ["window", "rows", "status", "drift share", "most drifted", "quality failures"]
    return _table(
        [*header, TITLES[primary]],
        [
            [
                window["window"],
                window["rows"],
                window["status"],
                window["drift_share"],
                _top(window),
                len(window["quality"]),
                live.get(window["window"], {}).get(primary, "-"),
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
        primary = PRIMARY[_task(report)]
        parts.append(f"Holdout {TITLES[primary]} of the model: {holdout[primary]:.4f}.")
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


REFERENCE, CURRENT, SHARE, ALERT = html_report.PALETTE[:4]
QUALITY = "#ffd966"  # a data-quality failure: the column was not tested
SMALL = "#e6e6e6"  # a window with too few rows: reported, not judged
NOT_DRIFTED, EDGE, DRIFTED, MOST = "#ffffff", "#fddbc7", "#f4a582", "#b2182b"
SCORE_ROW = "score (model output)"
LEFT = 140  # the charts over windows share their left edge: their windows line up
CHECKS = {"missing_rate": "missing", "contract": "contract", "unseen_categories": "unseen"}


def _distribution_panel(name: str, data: dict[str, Any]) -> str:
    """One feature in the newest judged window: reference and current shares side by side.
    A side without values says so in place of its bars."""
    held = [shares for shares in (data["reference"], data["current"]) if shares]
    missing = data["missing"]
    chart = html_report.Chart(
        name,
        data["bins"],
        0,
        max((max(shares) for shares in held), default=1) * 1.05 or 1,
        width=270,
        plot_height=110,
        left=40,
        subtitle=f"missing: {missing[0]:.0%} reference, {missing[1]:.0%} window",
        turn=data["kind"] != NUMERIC,
        keyed=False,
    )
    sides = [
        ("reference", REFERENCE, "no values in the reference"),
        ("current", CURRENT, "all values missing in this window"),
    ]
    for slot, (side, color, empty) in enumerate(sides):
        if data[side] is None:
            chart.note(empty)
        else:
            chart.bars(data[side], color, side, slot, len(sides))
    return chart.svg()


def _distributions(report: dict[str, Any]) -> str:
    shown = newest(report["windows"])
    which = "too few to judge" if shown["status"] == TOO_FEW_ROWS else "the newest judged"
    return (
        f"<h2>Window {html.escape(shown['window'])} ({shown['rows']:,} rows, {which}) "
        "against the reference</h2>"
        + html_report.swatches([(REFERENCE, "reference"), (CURRENT, "window")])
        + html_report.grid(
            [
                _distribution_panel(name, data)
                for name, data in report["newest_window_distributions"].items()
            ]
        )
    )


def _mix(low: str, high: str, share: float) -> str:
    """The colour ``share`` of the way from ``low`` to ``high`` (hex RGB)."""
    ends = [[int(color[i : i + 2], 16) for i in (1, 3, 5)] for color in (low, high)]
    return "#" + "".join(f"{round(a + (b - a) * share):02x}" for a, b in zip(*ends, strict=True))


def _fill(value: float, top: float) -> str:
    """White a tenth of the threshold or less, pink near it, then red up to ``top`` (log)."""
    if value < 1:
        return _mix(NOT_DRIFTED, EDGE, min(max(math.log10(max(value, 1e-9)) + 1, 0), 1))
    return _mix(DRIFTED, MOST, min(math.log10(value) / math.log10(top), 1))


def _cell(
    test: dict[str, Any] | None, failures: list[dict[str, Any]], small: bool, top: float
) -> html_report.Cell | None:
    """A feature in a window: its data-quality failure, or its drift; grey in a small window."""
    if failures:
        text = CHECKS[failures[0]["check"]]
        tooltip = "; ".join(f"{f['check']} {f['value']} (limit {f['limit']})" for f in failures)
        tooltip, fill, bold = f"{tooltip}: not tested", QUALITY, False
    elif test is not None:
        value = strength(test)
        text = "inf" if math.isinf(value) else f"{value:.2g}" if value < 10 else f"{value:.0f}"
        verdict = "drifted" if test["drifted"] else "not drifted"
        tooltip = (
            f"{test['method']} {test['score']:.4g}, threshold {test['threshold']:g}: {verdict} "
            f"({test['current_rows']} rows)"
        )
        fill, bold = _fill(value, top), test["drifted"]
    else:
        return None
    if small:
        return html_report.Cell(SMALL, text, f"{tooltip}; too few rows to judge")
    return html_report.Cell(fill, text, tooltip, bold)


def _drift_map(report: dict[str, Any]) -> str:
    """Every feature's drift in every window, drifted first in the newest judged window.

    Windows with too few rows are grey and left out of the colour scale: a dozen rows give
    huge scores that would wash out every judged window."""
    windows = report["windows"]
    small = [window["status"] == TOO_FEW_ROWS for window in windows]
    tests = [
        {test["column"]: test for test in window["columns"]}
        | ({SCORE_ROW: window["score"]} if window["score"] else {})
        for window in windows
    ]
    failures: list[dict[str, list[dict[str, Any]]]] = [{} for _ in windows]
    for found, window in zip(failures, windows, strict=True):
        for failure in window["quality"]:
            found.setdefault(failure["column"], []).append(failure)
    judged = [
        strength(test)
        for on, ts in zip(small, tests, strict=True)
        if not on
        for test in ts.values()
    ]
    top = max([10.0, *(value for value in judged if math.isfinite(value))])
    last = windows.index(newest(windows))
    features = {name for found in [*tests, *failures] for name in found} - {SCORE_ROW}
    names = sorted(
        features,
        key=lambda name: (
            name not in failures[last],
            -strength(tests[last][name]) if name in tests[last] else 0,
            name,
        ),
    )
    if any(SCORE_ROW in found for found in tests):
        names.append(SCORE_ROW)
    minimum = report["settings"]["min_window_rows"]
    return html_report.heatmap(
        "Drift per feature and window: score / threshold (p-value tests: threshold / p-value);"
        " 1 or more: drifted",
        names,
        [window["window"] for window in windows],
        [
            [
                _cell(tests[index].get(name), failures[index].get(name, []), small[index], top)
                for index in range(len(windows))
            ]
            for name in names
        ],
        [
            (EDGE, "under 1: not drifted"),
            (DRIFTED, "1: drifted"),
            (MOST, f"{top:.3g} (largest judged, at least 10)"),
            (QUALITY, "data-quality failure: not tested"),
            (SMALL, f"window under {minimum} rows: not judged, outside the colour scale"),
        ],
        left=LEFT,
    )


def _share_chart(report: dict[str, Any]) -> str:
    """The share of drifted features per window against the dataset-drift share."""
    windows = report["windows"]
    small = [window["status"] == TOO_FEW_ROWS for window in windows]
    chart = html_report.Chart(
        "Share of drifted features per window",
        [window["window"] for window in windows],
        0,
        1,
        left=LEFT,
    )
    minimum = report["settings"]["min_window_rows"]
    for index, window in enumerate(windows):
        if small[index]:
            chart.shade(index, f"{window['rows']} rows: too few to judge")
    chart.line(
        [None if on else w["drift_share"] for on, w in zip(small, windows, strict=True)],
        SHARE,
        "share of drifted features",
    )
    if any(small):
        chart.line(
            [w["drift_share"] if on else None for on, w in zip(small, windows, strict=True)],
            "#888",
            f"in a window under {minimum} rows (grey): not judged",
            joined=False,
        )
    share = report["settings"]["drift_share"]
    chart.rule(share, ALERT, f"dataset drift at {share:g}")
    return chart.svg()


def _performance_chart(report: dict[str, Any]) -> str:
    live = report["performance"]["windows"]
    chart = html_report.Chart(
        "Live metrics per window (labelled rows)",
        [entry["window"] for entry in live],
        0,
        1,
        left=LEFT,
    )
    task = _task(report)
    charted = [name for name, metric in METRICS[task].items() if metric.higher_is_better]
    for color, metric in zip(html_report.PALETTE, charted, strict=False):
        values = [entry["metrics"][metric] for entry in live]
        chart.line([None if math.isnan(v) else v for v in values], color, metric)
    holdout, primary = report["performance"]["holdout"], PRIMARY[task]
    if holdout:
        chart.rule(holdout[primary], "#777", f"holdout {TITLES[primary]}")
    return chart.svg()


def page(report: dict[str, Any]) -> str:
    """The HTML report: one file, charts inline, readable offline without a server."""
    figures = (
        [_distributions(report), _drift_map(report), _share_chart(report)]
        if report["windows"]
        else []
    )
    if report["performance"]["windows"]:
        figures.append(_performance_chart(report))
    return html_report.page("Model monitoring", summary(report), figures, _sections(report))


def write(report: dict[str, Any], folder: Path) -> None:
    """``drift.json``, ``drift.md`` and ``drift.html`` in ``folder``."""
    write_json(folder / "drift.json", report)
    write_text(folder / "drift.md", markdown(report))
    write_text(folder / "drift.html", page(report))
