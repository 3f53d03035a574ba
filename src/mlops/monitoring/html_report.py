"""Self-contained HTML pages: tables and matplotlib figures embedded, no server, no CDN."""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{border:1px solid #ccc;padding:2px 8px}img{max-width:100%;display:block}"
)


def png(figure: plt.Figure) -> str:
    """The figure as base64 PNG bytes (closed afterwards, no version stamp)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, metadata={"Software": None})
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def table(rows: list[list[str]]) -> str:
    """A header row and data rows as an HTML table."""
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows[1:]
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def page(
    title: str,
    summary: str,
    figures: list[plt.Figure],
    sections: list[tuple[str, list[list[str]]]],
    extra_html: str = "",
) -> str:
    """One page: the summary, the figures, then one table per section."""
    images = "".join(f'<img src="data:image/png;base64,{png(figure)}">' for figure in figures)
    tables = "".join(f"<h2>{html.escape(name)}</h2>{table(rows)}" for name, rows in sections)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p><b>{html.escape(summary)}</b></p>{images}{tables}{extra_html}</body></html>\n"
    )
