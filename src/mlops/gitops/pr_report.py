"""``mlops report pr``: the pull-request comment, built as a file here so it can be tested.

Against the pull request's base revision: the gate verdict with its reasons and intervals, metrics
and params diffs (``dvc metrics diff``, ``dvc params diff``), the task's charts of both revisions
drawn in the comment (Mermaid, ``pr_charts``), the slice table, the data-quality summary and the
model profile, within GitHub's comment size. ``dvc plots diff`` renders every plot beside it as
HTML, for the run's artifacts; the comment embeds the PNGs only when the team lets CML publish
images (``--images``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mlops import dvc, git
from mlops.gitops import pr_charts
from mlops.markdown import table as markdown_table
from mlops.paths import (
    GATE_JSON,
    GATE_MD,
    METRICS_JSON,
    PLOTS_DIR,
    PROFILE_JSON,
    QUALITY_JSON,
    QUALITY_MD,
    SLICES_JSON,
)
from mlops.tables import write_text
from mlops.task import PRIMARY, Task, of_metrics

# Each task's charts section, and the plots `dvc plots diff` draws of it.
CHARTS_TITLE = {
    Task.BINARY: "Curves",
    Task.MULTICLASS: "Classes",
    Task.REGRESSION: "Errors by prediction",
}
PLOTS_NAMED = {
    Task.BINARY: "ROC, precision-recall, calibration and confusion",
    Task.MULTICLASS: "The confusion matrix",
    Task.REGRESSION: "Predicted against actual and the residuals",
}


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _change(entry: dict[str, Any]) -> str:
    diff = entry.get("diff")
    if not isinstance(diff, int | float) or diff == 0:
        return ""
    return f"{diff:+.4f}" if abs(diff) < 1000 else f"{diff:+,.0f}"


def metrics_table(diff: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The holdout metrics and the model profile, base against this revision."""
    rows = [
        [file.stem, name, _value(entry.get("old")), _value(entry.get("new")), _change(entry)]
        for file in (METRICS_JSON, PROFILE_JSON)
        for name, entry in sorted(diff.get(str(file), {}).items())
    ]
    return markdown_table(["file", "metric", "base", "this", "change"], rows, "llrrr")


def params_table(diff: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    changed = [
        (name, entry) for changes in diff.values() for name, entry in sorted(changes.items())
    ]
    if not changed:
        return ["No parameter changed."]
    rows = [[name, _value(entry.get("old")), _value(entry.get("new"))] for name, entry in changed]
    return markdown_table(["param", "base", "this"], rows)


def slices_table(base: dict[str, Any] | None, current: dict[str, Any], metric: str) -> list[str]:
    """Each slice's ``metric`` (the gate's primary) and rows, so a regression hidden by the
    average shows."""
    rows = []
    for column, values in sorted(current.items()):
        for value, metrics in sorted(values.items()):
            old = ((base or {}).get(column, {}).get(value) or {}).get(metric)
            new = metrics.get(metric)
            moved = old is not None and new is not None and new != old
            change = f"{new - old:+.4f}" if moved else ""
            rows.append(
                [f"{column}={value}", metrics.get("rows"), _value(old), _value(new), change]
            )
    header = ["slice", "rows", f"base {metric}", f"this {metric}", "change"]
    return markdown_table(header, rows, "lrrrr")


def quality_summary(report: dict[str, Any]) -> list[str]:
    rows = [
        [table, f"{t['rows_in']:,}", f"{t['duplicates_removed']:,}", f"{t['rows_out']:,}"]
        for table, t in sorted(report["tables"].items())
    ]
    return markdown_table(["table", "rows in", "duplicates removed", "rows out"], rows, "lrrr")


def _details(title: str, body: str) -> list[str]:
    return [f"<details><summary>{title}</summary>", "", body.strip(), "", "</details>"]


# GitHub refuses a comment longer than 65,536 characters; CML adds its watermark line.
COMMENT_LIMIT = 60_000


def fit(head: list[str], sections: list[tuple[str, list[str]]], limit: int = COMMENT_LIMIT) -> str:
    """``head`` and each ``## section`` with a body, in order, until the next would pass
    ``limit``: the rest are left out and named, never cut mid-table or mid-chart."""
    text = "\n".join(head) + "\n"
    left_out: list[str] = []
    for title, body in sections:
        if not body:
            continue
        part = "\n".join(["", f"## {title}", "", *body]) + "\n"
        if left_out or len(text) + len(part) > limit:
            left_out.append(title)
        else:
            text += part
    if left_out:
        text += f"\nLeft out to fit a GitHub comment: {', '.join(left_out)}.\n"
    return text


def build(base: str, images: bool = False) -> str:
    """The markdown comment comparing the workspace with ``base``."""
    metrics = json.loads(dvc.run("metrics", "diff", base, "--all", "--json").stdout or "{}")
    params = json.loads(dvc.run("params", "diff", base, "--json").stdout or "{}")
    base_slices = git.show(base, str(SLICES_JSON))
    gate = json.loads(GATE_JSON.read_text()) if GATE_JSON.exists() else {}
    current = json.loads(METRICS_JSON.read_text()) if METRICS_JSON.exists() else {}
    task = of_metrics(current) or Task.BINARY
    plots = [
        f"{PLOTS_NAMED[task]} against the base: `dvc plots diff`, in this run's artifacts "
        "(`plots/index.html`)."
    ]
    if images:
        pngs = sorted(PLOTS_DIR.glob("*.png"))
        plots += ["", *(f"![{png.stem}](plots/{png.name})" for png in pngs)]
    head = [
        f"# Model report: `{git.commit()[:8]}` against `{base}`",
        "",
        GATE_MD.read_text().strip() if GATE_MD.exists() else "No gate record (`mlops gate`).",
    ]
    return fit(
        head,
        [
            ("Candidate against champion", pr_charts.intervals(gate.get("evidence"))),
            ("Metrics and model profile", metrics_table(metrics)),
            (CHARTS_TITLE[task], pr_charts.charts(task, base, metrics)),
            ("Parameters", params_table(params)),
            (
                "Slices",
                slices_table(
                    json.loads(base_slices) if base_slices else None,
                    json.loads(SLICES_JSON.read_text()),
                    gate.get("primary") or PRIMARY[task],
                ),
            ),
            (
                "Data quality",
                [
                    *quality_summary(json.loads(QUALITY_JSON.read_text())),
                    "",
                    *_details("Missing values and outliers", QUALITY_MD.read_text()),
                ],
            ),
            ("Plots", plots),
        ],
    )


def write(base: str, out: Path, images: bool = False) -> Path:
    """``out/report.md`` and ``out/plots/`` (``dvc plots diff`` HTML and the PNG figures)."""
    plots = out / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    dvc.run("plots", "diff", base, "--out", str(plots))
    for png in PLOTS_DIR.glob("*.png"):
        shutil.copy2(png, plots / png.name)
    report = out / "report.md"
    write_text(report, build(base, images))
    return report


FORK_NOTICE = """# Model report: not run for this pull request

This pull request comes from a fork. GitHub gives a fork's pull request no secrets, so the
workflow cannot pull the data from the DVC remote, retrain, or compare with production. Nothing
failed: lint and tests ran as usual (workflow `ci`).

To get the model report, a maintainer can push this branch to the repository and open the pull
request from there, or run `mlops pipeline`, `mlops gate` and `mlops report pr --base origin/main`
locally and attach `build/pr-report/report.md`.
"""


def fork_notice(out: Path) -> Path:
    """``out/report.md``: the notice."""
    write_text(out / "report.md", FORK_NOTICE)
    return out / "report.md"
