"""The HTML reports (monitoring, lifecycle): inline SVG charts that show what the numbers say —
a dead feed as all missing, windows with too few rows outside the drift scale, the share at
which a window counts as drifted — in one self-contained page that a real browser draws.

The monitoring report is built by the monitor's own functions from synthetic windows; a
browser test leaves its screenshots in pytest's temporary folder, to look at."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from mlops.columns import LABEL
from mlops.config import EvaluateParams, MonitorParams
from mlops.distribution import CATEGORICAL, NUMERIC, Distribution
from mlops.monitoring import logs, monitor, monitor_report
from mlops.monitoring.drift import strength
from mlops.monitoring.windows import WindowSummary

SVG = "{http://www.w3.org/2000/svg}"
CHROMIUM = shutil.which("chromium")
LAYOUT = logs.LogLayout(["site"], ["voltage", "flow"], "M")
KINDS = {"site": CATEGORICAL, "voltage": NUMERIC, "flow": NUMERIC}
SMALL_ROWS = 12


def _rows(count: int, seed: int, month: str, voltage: float = 15.0, dead: bool = False):
    """Collected rows of one month; ``dead``: the flow sensor sent nothing."""
    rng = np.random.default_rng(seed)
    seconds = pd.to_timedelta(rng.integers(0, 27 * 86400, count), unit="s")
    flow = np.where(rng.random(count) < 0.05, np.nan, rng.normal(1015, 7, count).round(1))
    return pd.DataFrame(
        {
            logs.TIME: pd.Timestamp(f"{month}-01", tz="UTC") + seconds,
            "site": rng.choice(["north", "south", "east"], count),
            "voltage": rng.normal(voltage, 8, count).round(1),
            "flow": np.full(count, np.nan) if dead else flow,
            logs.SCORE: rng.random(count),
            "model_version": "v1",
            logs.WINDOW: month,
            LABEL: rng.integers(0, 2, count),
        }
    )


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """A report as ``monitor.run`` writes it: a normal month, one whose voltage drifts,
    one with a dead flow sensor (the newest judged), and one of a dozen rows."""
    reference = _rows(5000, 0, "2023-06")
    baseline = monitor.Baseline(
        {"categorical": LAYOUT.categorical, "numeric": LAYOUT.numeric},
        (),
        0.5,
        {column: Distribution.of(reference[column], kind) for column, kind in KINDS.items()},
        Distribution.of(reference[logs.SCORE], NUMERIC),
        {"roc_auc": 0.7},
        frozenset({"v1"}),
    )
    windows = {
        "2024-01": _rows(2000, 1, "2024-01"),
        "2024-02": _rows(2000, 2, "2024-02", voltage=30.0),
        "2024-03": _rows(1500, 3, "2024-03", dead=True),
        "2024-04": _rows(SMALL_ROWS, 4, "2024-04", voltage=60.0),
    }
    settings = MonitorParams()
    summaries = {name: WindowSummary.of(rows, LAYOUT) for name, rows in windows.items()}
    judged = [
        monitor.judge_window(name, summary, baseline, {}, settings)
        for name, summary in summaries.items()
    ]
    newest = monitor.newest(judged)["window"]
    return {
        "log": "synthetic",
        "model": "synthetic",
        "window": "M",
        "settings": settings.model_dump(mode="json"),
        "windows": judged,
        "performance": {
            "holdout": baseline.holdout,
            "windows": monitor.live_performance(
                list(windows.values()), 0.5, EvaluateParams(slices=["site"], min_slice_rows=100)
            ),
        },
        "decision": monitor.decide(judged, settings),
        "newest_window_distributions": monitor.histograms(summaries[newest], baseline),
    }


@pytest.fixture(scope="module")
def page(report: dict[str, Any]) -> str:
    return monitor_report.page(report)


def _charts(page: str) -> dict[str, ElementTree.Element]:
    """Every inline chart of a page by its title (each must be well-formed SVG)."""
    charts = [ElementTree.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", page, re.S)]
    return {chart.findtext(f"{SVG}title"): chart for chart in charts}


def _titled(chart: ElementTree.Element, tag: str) -> dict[str, ElementTree.Element]:
    """A chart's marks of one kind by their tooltip."""
    return {
        mark.findtext(f"{SVG}title"): mark
        for mark in chart.iter(f"{SVG}{tag}")
        if mark.find(f"{SVG}title") is not None
    }


def test_a_feature_with_every_value_missing_is_drawn_as_all_missing(report, page) -> None:
    assert report["windows"][2]["status"] == monitor.DATA_QUALITY
    flow = report["newest_window_distributions"]["flow"]
    assert flow["current"] is None
    assert flow["missing"][1] == 1.0
    charts = _charts(page)
    dead = ElementTree.tostring(charts["flow"], encoding="unicode")
    assert "all values missing in this window" in dead
    assert not _bars(charts["flow"], "current")
    assert _bars(charts["flow"], "reference")
    assert _bars(charts["voltage"], "current")


def _bars(chart: ElementTree.Element, side: str) -> list[str]:
    return [title for title in _titled(chart, "rect") if title.startswith(f"{side},")]


def test_windows_with_too_few_rows_are_grey_and_outside_the_drift_scale(report, page) -> None:
    small = report["windows"][-1]
    assert (small["rows"], small["status"]) == (SMALL_ROWS, monitor.TOO_FEW_ROWS)
    judged = [strength(t) for w in report["windows"][:-1] for t in [*w["columns"], w["score"]]]
    assert max(map(strength, small["columns"])) > max(judged)  # it would set the scale
    [drift_map] = [chart for title, chart in _charts(page).items() if title.startswith("Drift per")]
    legend = "".join(text.text or "" for text in drift_map.iter(f"{SVG}text"))
    assert f"{max(judged):.3g} (largest judged" in legend
    assert "under 500 rows: not judged, outside the colour scale" in legend
    cells = _titled(drift_map, "rect")
    too_few = [cell for title, cell in cells.items() if title.endswith("too few rows to judge")]
    assert len(too_few) == len(small["columns"]) + 1  # every feature and the score
    assert {cell.get("fill") for cell in too_few} == {monitor_report.SMALL}
    assert monitor_report.SMALL not in {
        cell.get("fill") for cell in cells.values() if cell not in too_few
    }


def test_the_drift_share_chart_draws_the_share_at_which_a_window_drifts(report, page) -> None:
    shares = _charts(page)["Share of drifted features per window"]
    frame = next(rect for rect in shares.iter(f"{SVG}rect") if rect.get("fill") == "none")
    rule = _titled(shares, "line")["dataset drift at 0.5"]
    assert float(rule.get("y1")) == float(rule.get("y2")) == float(frame.get("height")) / 2
    # The small window's share is a hollow dot on a grey band, off the judged windows' line.
    small = report["windows"][-1]
    dot = _titled(shares, "circle")[
        f"in a window under 500 rows (grey): not judged, 2024-04: {small['drift_share']:.4g}"
    ]
    assert dot.get("fill") == "white"
    assert _titled(shares, "rect")[f"{SMALL_ROWS} rows: too few to judge"].get("fill")


def test_the_lifecycle_page_draws_the_dataset_drift_share(tmp_path: Path) -> None:
    from mlops.gitops import lifecycle

    lifecycle.write(_months(), {}, tmp_path, "three months", 0.25)
    shares = _charts((tmp_path / "lifecycle.html").read_text())["Share of drifted features"]
    frame = next(rect for rect in shares.iter(f"{SVG}rect") if rect.get("fill") == "none")
    rule = _titled(shares, "line")["dataset drift at 0.25"]
    assert float(rule.get("y1")) == pytest.approx(float(frame.get("height")) * 0.75, abs=0.1)


def _months() -> list[Any]:
    from mlops.gitops.lifecycle import Month

    return [
        Month("2024-07", "v1.0.0", 900, "drift", 0.6, ["voltage"], 0.69),
        Month(
            "2024-08",
            "v1.0.0",
            950,
            "drift",
            0.55,
            ["voltage"],
            0.66,
            "candidate",
            0.7,
            "retrained on 2024-07-01..2024-09-01: promoted v1.1.0",
        ),
        Month("2024-09", "v1.1.0", 870, "no_drift", 0.2, [], 0.71),
    ]


def test_the_pages_are_self_contained(page: str, tmp_path: Path) -> None:
    from mlops.gitops import lifecycle

    lifecycle.write(_months(), {}, tmp_path, "three months", 0.5)
    for html in (page, (tmp_path / "lifecycle.html").read_text()):
        assert not re.search(r"<script|<img|<link|src=|href=|url\(", html)
        assert _charts(html)


def _png_size_and_shades(png: bytes) -> tuple[tuple[int, int], int]:
    """A PNG's width and height, and how many byte values its pixel data holds."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    size = struct.unpack(">II", png[16:24])
    data, at = b"", 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at : at + 8])
        if kind == b"IDAT":
            data += png[at + 8 : at + 8 + length]
        at += 12 + length
    return size, len(set(zlib.decompress(data)))


@pytest.mark.skipif(not CHROMIUM, reason="no `chromium` on PATH (apt-get install chromium)")
def test_a_browser_draws_both_reports(page: str, tmp_path: Path) -> None:
    from mlops.gitops import lifecycle

    (tmp_path / "drift.html").write_text(page)
    lifecycle.write(_months(), {}, tmp_path, "three months", 0.5)
    (tmp_path / "blank.html").write_text("<!doctype html><html><body></body></html>")
    shades = {}
    for name in ("drift", "lifecycle", "blank"):
        png = tmp_path / f"{name}.png"
        subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'chromium-profile'}",
                f"--screenshot={png}",
                "--window-size=1200,2000",
                (tmp_path / f"{name}.html").as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        size, shades[name] = _png_size_and_shades(png.read_bytes())
        assert size == (1200, 2000)
    print(f"screenshots: {tmp_path}/drift.png, {tmp_path}/lifecycle.png")
    assert shades["drift"] > 4 * shades["blank"]
    assert shades["lifecycle"] > 4 * shades["blank"]
