"""Self-contained HTML pages: tables, and charts drawn as inline SVG (no script, no CDN).

The charts are written here as SVG text rather than drawn by a plotting library: a page opens
offline in any browser, weighs kilobytes, and costs no import (matplotlib's import and drawing
were most of a monitoring run's seconds). Marks carry a ``<title>``: the browser's tooltip.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{border:1px solid #ccc;padding:2px 8px}svg{max-width:100%;height:auto;display:block;"
    "margin-bottom:1em}.grid{display:flex;flex-wrap:wrap;gap:4px}.grid svg{margin:0}"
    ".swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;"
    "vertical-align:middle}"
)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
FONT = 11  # px
CHAR = 0.6 * FONT  # a glyph's width, near enough to lay labels out without font metrics
LABEL_CHARS = 24  # longer axis labels are cut
TITLE = 22  # px: a title's line
LEGEND_LINE = 16  # px: a legend's line


def _text(value: object) -> str:
    return html.escape(str(value))


def _cut(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _number(value: float) -> str:
    return f"{value:.4g}"


def _ticks(low: float, high: float) -> list[float]:
    """Round steps, about five."""
    raw = (high - low) / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude * next(s for s in (1, 2, 5, 10) if s * magnitude >= raw)
    first = math.ceil(low / step - 1e-9)
    return [round(k * step, 12) for k in range(first, math.floor(high / step + 1e-9) + 1)]


@dataclass(frozen=True)
class Axis:
    """Categories along x, laid out in equal bands; labels turned when they do not fit."""

    labels: Sequence[str]
    left: float
    width: float
    turn: bool = True  # else every n-th label, level

    @property
    def band(self) -> float:
        return self.width / max(len(self.labels), 1)

    @property
    def widest(self) -> float:
        return max((len(_cut(label)) for label in self.labels), default=0) * CHAR

    @property
    def turned(self) -> bool:
        return self.turn and self.widest + 6 > self.band

    @property
    def height(self) -> float:
        """The room the labels need below the plot."""
        return (self.widest * 0.71 if self.turned else 0) + FONT + 8

    def center(self, index: float) -> float:
        return self.left + (index + 0.5) * self.band

    def svg(self, top: float) -> str:
        """The labels under a plot whose bottom edge is at ``top``: turned 45 degrees when they
        do not fit side by side, and every n-th when they would still overlap."""
        room = FONT * 1.5 if self.turned else self.widest + 6
        step = max(1, math.ceil(room / self.band))
        parts = []
        for index in range(0, len(self.labels), step):
            x, y = self.center(index), top + FONT + 4
            label = _text(_cut(self.labels[index]))
            if self.turned:
                parts.append(
                    f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" '
                    f'transform="rotate(-45 {x:.1f} {y:.1f})">{label}</text>'
                )
            else:
                parts.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{label}</text>')
        return "".join(parts)


def _legend_lines(items: Sequence[tuple[str, str]], width: float) -> list[list[tuple[str, str]]]:
    """Legend entries (colour, label) in lines no wider than ``width``."""
    lines: list[list[tuple[str, str]]] = [[]]
    used = 0.0
    for color, label in items:
        size = len(label) * CHAR + 34
        if lines[-1] and used + size > width:
            lines.append([])
            used = 0.0
        lines[-1].append((color, label))
        used += size
    return lines


def _header(
    title: str, subtitle: str, legend: Sequence[tuple[str, str]], left: float, width: float
) -> tuple[str, float]:
    """A chart's title, subtitle and legend over ``[left, width]``, and the height they take."""
    parts = [f'<text x="{left}" y="16" font-weight="bold">{_text(title)}</text>']
    y = 16.0
    if subtitle:
        y += TITLE - 4
        parts.append(f'<text x="{left}" y="{y}">{_text(subtitle)}</text>')
    for line in _legend_lines(legend, width - left) if legend else []:
        y += LEGEND_LINE
        x = left
        for color, label in line:
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="14" height="10" fill="{color}"/>'
                f'<text x="{x + 18:.1f}" y="{y:.1f}">{_text(label)}</text>'
            )
            x += len(label) * CHAR + 34
    return "".join(parts), y + 10


def _svg(title: str, width: float, height: float, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="{FONT}" '
        f'role="img"><title>{_text(title)}</title>{body}</svg>'
    )


@dataclass
class Chart:
    """One plot: categories along x, a value scale up y.

    Marks are added in drawing order; ``svg()`` writes the frame, the ticks, the labels, the
    legend and the marks as one ``<svg>`` element.
    """

    title: str
    categories: Sequence[str]
    low: float
    high: float
    width: int = 1100
    plot_height: int = 220
    left: int = 50
    subtitle: str = ""
    turn: bool = True  # category labels may be turned (else every n-th, level)
    keyed: bool = True  # the legend is drawn (a grid of small charts shares one instead)
    marks: list[str] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.high <= self.low:
            self.high = self.low + 1

    @property
    def axis(self) -> Axis:
        return Axis(self.categories, self.left, self.right - self.left, self.turn)

    @property
    def right(self) -> float:
        return self.width - 10

    def y(self, value: float) -> float:
        """The height of ``value`` from the plot's top edge, held inside the plot."""
        share = (min(max(value, self.low), self.high) - self.low) / (self.high - self.low)
        return self.plot_height * (1 - share)

    def line(
        self,
        values: Sequence[float | None],
        color: str,
        label: str,
        *,
        dashed: bool = False,
        joined: bool = True,
    ) -> None:
        """A line through the values (broken where one is ``None``), with a dot at each; dots
        alone, hollow, when not ``joined``."""
        points = {
            index: (self.axis.center(index), self.y(value))
            for index, value in enumerate(values)
            if value is not None
        }
        runs: list[list[str]] = [[]]
        for index in range(len(values)):
            if index in points:
                runs[-1].append("{:.1f},{:.1f}".format(*points[index]))
            else:
                runs.append([])
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        self.marks += [
            f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" '
            f'stroke-width="1.8"{dash}/>'
            for run in runs
            if joined and len(run) > 1
        ]
        self.marks += [
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.2" fill="{color if joined else "white"}" '
            f'stroke="{color}"><title>{_text(label)}, {_text(self.categories[index])}: '
            f"{_number(values[index] or 0)}</title></circle>"
            for index, (x, y) in points.items()
        ]
        self.legend.append((color, label))

    def bars(
        self, values: Sequence[float], color: str, label: str, slot: int = 0, slots: int = 1
    ) -> None:
        """Bars from the bottom, side by side with other series when ``slots`` > 1."""
        width = self.axis.band * 0.8 / slots
        base = self.y(max(self.low, 0))
        for index, value in enumerate(values):
            x = self.axis.center(index) - self.axis.band * 0.4 + slot * width
            y = self.y(value)
            self.marks.append(
                f'<rect x="{x:.1f}" y="{min(y, base):.1f}" width="{width:.1f}" '
                f'height="{abs(base - y):.1f}" fill="{color}"><title>{_text(label)}, '
                f"{_text(self.categories[index])}: {_number(value)}</title></rect>"
            )
        self.legend.append((color, label))

    def rule(self, value: float, color: str, label: str) -> None:
        """A dashed horizontal line across the plot, named in the legend."""
        y = self.y(value)
        self.marks.append(
            f'<line x1="{self.left}" x2="{self.right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{color}" stroke-width="1.5" stroke-dasharray="6 4">'
            f"<title>{_text(label)}</title></line>"
        )
        self.legend.append((color, label))

    def marker(self, index: int, color: str) -> None:
        """A dotted vertical line at one category."""
        x = self.axis.center(index)
        self.marks.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{self.plot_height}" stroke="{color}" '
            'stroke-dasharray="2 3"/>'
        )

    def shade(self, index: int, note: str) -> None:
        """A grey band behind one category (drawn under later marks)."""
        x = self.axis.center(index) - self.axis.band / 2
        self.marks.append(
            f'<rect x="{x:.1f}" y="0" width="{self.axis.band:.1f}" '
            f'height="{self.plot_height}" fill="#e6e6e6"><title>{_text(note)}</title></rect>'
        )

    def note(self, text: str, color: str = "#b00") -> None:
        """A line of text in the middle of the plot."""
        x, y = (self.left + self.right) / 2, self.plot_height / 2
        self.marks.append(
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" fill="{color}" '
            'font-weight="bold" stroke="white" stroke-width="4" paint-order="stroke">'
            f"{_text(text)}</text>"
        )

    def svg(self) -> str:
        """The chart; the plot's marks are placed from its top edge, under the header."""
        legend = self.legend if self.keyed else []
        header, top = _header(self.title, self.subtitle, legend, self.left, self.right)
        ticks = []
        for tick in _ticks(self.low, self.high):
            y = self.y(tick)
            ticks.append(
                f'<line x1="{self.left}" x2="{self.right}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="#ddd"/><text x="{self.left - 4}" y="{y + 4:.1f}" '
                f'text-anchor="end">{_number(tick)}</text>'
            )
        frame = (
            f'<rect x="{self.left}" y="0" width="{self.right - self.left}" '
            f'height="{self.plot_height}" fill="none" stroke="#888"/>'
        )
        plot = "".join([*ticks, *self.marks, frame, self.axis.svg(self.plot_height)])
        height = top + self.plot_height + self.axis.height + 4
        return _svg(
            self.title,
            self.width,
            height,
            f'{header}<g transform="translate(0 {top:.1f})">{plot}</g>',
        )


def _ink(fill: str) -> str:
    """Black text on a light fill, white on a dark one (``#rrggbb``)."""
    red, green, blue = (int(fill[i : i + 2], 16) for i in (1, 3, 5))
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else "white"


class Cell(NamedTuple):
    """One cell of a heatmap: its colour, its text, and its tooltip."""

    fill: str
    text: str
    tooltip: str
    bold: bool = False


def heatmap(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    cells: Sequence[Sequence[Cell | None]],
    legend: Sequence[tuple[str, str]],
    width: int = 1100,
    left: int = 130,
) -> str:
    """A table of coloured cells (a row per name, a column per category) as an ``<svg>``."""
    axis = Axis(columns, left, width - left - 10)
    header, top = _header(title, "", legend, left, width - 10)
    row_height = 18
    bottom = top + row_height * len(rows)
    texts = axis.band >= 30  # narrower cells are colour only (the tooltip has the value)
    parts = [header]
    for line, (name, row) in enumerate(zip(rows, cells, strict=True)):
        y = top + line * row_height
        parts.append(
            f'<text x="{left - 4}" y="{y + 13}" text-anchor="end">{_text(_cut(name))}</text>'
        )
        for index, cell in enumerate(row):
            if cell is None:
                continue
            x = axis.center(index) - axis.band / 2
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{axis.band:.1f}" height="{row_height}" '
                f'fill="{cell.fill}" stroke="white"><title>{_text(cell.tooltip)}</title></rect>'
            )
            if texts:
                weight = ' font-weight="bold"' if cell.bold else ""
                parts.append(
                    f'<text x="{axis.center(index):.1f}" y="{y + 13}" text-anchor="middle" '
                    f'fill="{_ink(cell.fill)}"{weight}>{_text(cell.text)}</text>'
                )
    return _svg(title, width, bottom + axis.height + 4, "".join(parts) + axis.svg(bottom))


def swatches(items: Sequence[tuple[str, str]]) -> str:
    """A legend line in HTML (colour and name pairs), for a grid of small charts."""
    return (
        "<p>"
        + "".join(
            f'<span class="swatch" style="background:{color}"></span>{_text(name)}'
            for color, name in items
        )
        + "</p>"
    )


def grid(charts: Sequence[str]) -> str:
    """Small charts side by side, wrapping to the page's width."""
    return f'<div class="grid">{"".join(charts)}</div>'


def table(rows: list[list[str]]) -> str:
    """A header row and data rows as an HTML table."""
    head = "".join(f"<th>{_text(cell)}</th>" for cell in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{_text(cell)}</td>" for cell in row) + "</tr>" for row in rows[1:]
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def page(
    title: str, summary: str, figures: Sequence[str], sections: list[tuple[str, list[list[str]]]]
) -> str:
    """One page: the summary, the figures (HTML and SVG), then one table per section."""
    tables = "".join(f"<h2>{_text(name)}</h2>{table(rows)}" for name, rows in sections)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_text(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{_text(title)}</h1>"
        f"<p><b>{_text(summary)}</b></p>{''.join(figures)}{tables}</body></html>\n"
    )
