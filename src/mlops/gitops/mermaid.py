"""Mermaid line and bar charts: drawn by GitHub inside a comment or a job summary, nothing uploaded.

Written to the part of Mermaid's grammar (``xychart.jison``) that has not changed since the chart's
first release, 10.6: the ``xychart-beta`` keyword, which every release that draws the chart accepts
(plain ``xychart`` only from 11.10); quoted text without escapes, so it holds no double quote;
numbers as plain decimals, never an exponent or ``nan``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence


def _text(value: str) -> str:
    return '"' + value.replace('"', "'").replace("\n", " ") + '"'


def _number(value: float, decimals: int) -> str:
    if not math.isfinite(value):
        raise ValueError(f"a chart cannot draw {value}")
    return f"{value:.{decimals}f}"


# A series: its kind (line, bar), name, colour (``#rrggbb``) and values.
Plot = tuple[str, str, str, Sequence[float]]


def _block(
    title: str, x_axis: str, y_axis: tuple[str, float, float], plots: Sequence[Plot], decimals: int
) -> list[str]:
    """A fenced ``mermaid`` block of ``plots`` in order (a later one is drawn over the former)."""
    init = {"themeVariables": {"xyChart": {"plotColorPalette": ", ".join(p[2] for p in plots)}}}
    y_title, y_min, y_max = y_axis
    return [
        "```mermaid",
        f"%%{{init: {json.dumps(init)}}}%%",
        "xychart-beta",
        f"    title {_text(title)}",
        f"    x-axis {x_axis}",
        f"    y-axis {_text(y_title)} {_number(y_min, decimals)} --> {_number(y_max, decimals)}",
        *(
            f"    {kind} {_text(name)} [{', '.join(_number(v, decimals) for v in values)}]"
            for kind, name, _, values in plots
        ),
        "```",
    ]


def line_chart(
    title: str,
    x_axis: tuple[str, int, int],
    y_axis: tuple[str, float, float],
    lines: Mapping[str, tuple[str, Sequence[float]]],
    decimals: int = 1,
) -> list[str]:
    """A fenced ``mermaid`` block: each named line a colour (``#rrggbb``) and its values.

    Mermaid spreads a line's n values evenly over a numeric x-axis; releases up to 11.14 at least
    do it by adding (max - min) / (n - 1) in floating point, so that step must be whole or the
    last value is dropped (0 to 1 in 20 steps keeps 20 values of 21). Axes are
    ``(title, min, max)``.
    """
    x_title, x_min, x_max = x_axis
    for name, (_, values) in lines.items():
        if len(values) < 2 or (x_max - x_min) % (len(values) - 1):
            raise ValueError(f"line {name}: {len(values)} values do not step evenly by whole units")
    plots = [("line", name, colour, values) for name, (colour, values) in lines.items()]
    return _block(title, f"{_text(x_title)} {x_min} --> {x_max}", y_axis, plots, decimals)


def bar_chart(
    title: str,
    categories: Sequence[str],
    y_axis: tuple[str, float, float],
    bars: tuple[str, str, Sequence[float]],
    line: tuple[str, str, Sequence[float]] | None = None,
    decimals: int = 2,
) -> list[str]:
    """A fenced ``mermaid`` block: one bar per category (``(name, colour, values)``) and,
    drawn over them, a line across the same categories. Mermaid stacks bar series on one
    another, so a second series to compare is the line, not bars beside them."""
    plots = [("bar", *bars), *([("line", *line)] if line else [])]
    x_axis = f"[{', '.join(_text(name) for name in categories)}]"
    return _block(title, x_axis, y_axis, plots, decimals)
