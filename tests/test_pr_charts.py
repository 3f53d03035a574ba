"""The pull-request comment draws its charts itself: base and head curves as Mermaid charts that
Mermaid's own parser reads, the gate's intervals as text bars, all within a comment's size.

A synthetic project in a temporary git and DVC repository: what the comment draws is the evaluate
stage's files at the base and in the workspace (written here by the pipeline's own functions from
made-up scores) and the gate record, whatever model made them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops.gitops import mermaid, pr_charts, pr_report
from mlops.pipeline import metrics, plots
from mlops.task import Predictions, Task
from tests.conftest import run

BASE = "base"
EVIDENCE = {
    "level": 0.95,
    "resamples": 1000,
    "seed": 7,
    "primary": {
        "metric": "roc_auc",
        "candidate": 0.85,
        "champion": 0.84,
        "difference": 0.01,
        "low": -0.01,
        "high": 0.03,
    },
    "slices": [
        {
            "column": "group",
            "value": "a",
            "rows": 1200,
            "metric": "roc_auc",
            "difference": 0.02,
            "low": 0.005,
            "high": 0.03,
        },
        {
            "column": "group",
            "value": "b",
            "rows": 800,
            "metric": "roc_auc",
            "difference": -0.01,
            "low": -0.02,
            "high": 0.0,
        },
    ],
}


def _evaluate(repo: Path, separation: float) -> dict[str, float]:
    """The evaluate stage's small outputs for scores that separate the classes by ``separation``."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    scores = 1 / (1 + np.exp(-(separation * (labels - 0.5) + rng.normal(0, 1, len(labels)))))
    frame = pd.DataFrame({"group": np.where(np.arange(len(labels)) % 5 < 3, "a", "b")})
    predicted = Predictions(Task.BINARY, scores, 0.5)
    overall = metrics.score(labels, predicted)
    reports = repo / "reports"
    (reports / "plots").mkdir(parents=True, exist_ok=True)
    for name, points in plots.curves(labels, predicted, 200, 10).items():
        (reports / "plots" / f"{name}.json").write_text(json.dumps(points))
    files = {
        "metrics.json": overall,
        "slices.json": metrics.by_slice(frame, labels, predicted, ["group"], 100),
        "profile.json": {"model_size_bytes": 1000},
        "data_quality.json": {
            "tables": {"t": {"rows_in": 2000, "duplicates_removed": 0, "rows_out": 2000}}
        },
    }
    for name, content in files.items():
        (reports / name).write_text(json.dumps(content))
    (reports / "data_quality.md").write_text("No missing values.\n")
    return overall


def _commit(repo: Path, message: str) -> None:
    run("git", "add", "--all", cwd=repo)
    run("git", "commit", "--quiet", "-m", message, cwd=repo)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A base revision and a better head with its gate evidence; the comment built between."""
    repo = tmp_path_factory.mktemp("pr-charts")
    run("git", "init", "--quiet", cwd=repo)
    run("dvc", "init", "--quiet", cwd=repo)
    (repo / "dvc.yaml").write_text("metrics:\n  - reports/metrics.json\n  - reports/profile.json\n")
    base = _evaluate(repo, 1.5)
    _commit(repo, "base model")
    run("git", "branch", BASE, cwd=repo)
    head = _evaluate(repo, 2.5)
    gate = {"verdict": "promote", "evidence": EVIDENCE}
    (repo / "reports/gate.json").write_text(json.dumps(gate))
    (repo / "reports/gate.md").write_text("## Model gate: ✅ promote\n")
    _commit(repo, "better model")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(repo)
        comment = pr_report.build(BASE)
    return {"repo": repo, "base": base, "head": head, "comment": comment}


def chart_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


def _lines(block: str) -> dict[str, list[float]]:
    return {
        name: [float(value) for value in values.split(", ")]
        for name, values in re.findall(r'^    line "(\w+)" \[(.*)\]$', block, flags=re.MULTILINE)
    }


def test_the_comment_draws_base_and_head_curves_titled_with_their_summaries(
    project: dict[str, Any],
) -> None:
    roc, pr = chart_blocks(project["comment"])
    base, head = project["base"], project["head"]
    assert f'title "ROC: base AUC {base["roc_auc"]:.4f}, this AUC {head["roc_auc"]:.4f}"' in roc
    assert f"base AP {base['pr_auc']:.4f}, this AP {head['pr_auc']:.4f}" in pr
    for block in (roc, pr):
        lines = _lines(block)
        assert list(lines) == ["base", "this"]
        assert all(len(values) == 21 for values in lines.values())  # 0 to 100 % by 5
        assert np.mean(lines["this"]) > np.mean(lines["base"])  # the better model is this one
    roc_lines = _lines(roc)
    assert roc_lines["this"][0] >= 0
    assert roc_lines["this"][-1] == 100.0
    assert np.all(np.diff(roc_lines["this"]) >= 0)
    assert "Grey: base (`base`), blue: this revision." in project["comment"]


def test_the_comment_draws_the_gate_intervals_worst_slice_first(project: dict[str, Any]) -> None:
    comment = project["comment"]
    section = comment[comment.index("## Candidate against champion") :]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:4]
    # One scale from -0.02 to +0.03 in 25 cells: zero at cell 10.
    assert rows[0] == (
        "| all rows, roc_auc |  | +0.0100 | -0.0100 to +0.0300 | spans 0 "
        "| `.....[----\\|---*---------]` |"
    )
    assert rows[1].startswith("| group=b | 800 | -0.0100 | -0.0200 to +0.0000 | spans 0 |")
    assert rows[2].startswith("| group=a | 1,200 | +0.0200 | +0.0050 to +0.0300 | above |")
    assert "95% intervals from 1,000 resamples (seed 7)" in section
    assert comment.index("## Candidate against champion") < comment.index("## Curves")


def test_intervals_need_evidence_and_numbers() -> None:
    assert pr_charts.intervals(None) == []
    one_class = {**EVIDENCE["slices"][0], "value": "c", "difference": None, "low": None}
    lines = pr_charts.intervals({**EVIDENCE, "slices": [*EVIDENCE["slices"], one_class]})
    assert [line.split(" |")[0] for line in lines if line.startswith("| ")][1:] == [
        "| all rows, roc_auc",
        "| group=b",
        "| group=a",
    ]
    assert lines[-1] == "Not shown: 1 of 3 slices (`reports/gate.json` has all)."


def test_a_base_without_curves_draws_this_revision_alone() -> None:
    points = [{"fpr": 0.0, "tpr": 0.0}, {"fpr": 0.5, "tpr": 1.0}, {"fpr": 1.0, "tpr": 1.0}]
    roc = pr_charts.CURVES[0]
    block = "\n".join(pr_charts.curve_chart(roc, {"base": None, "this": points}, {"this": 0.75}))
    assert _lines(block) == {"this": [min(100.0, 10.0 * k) for k in range(21)]}
    assert 'title "ROC: this AUC 0.7500"' in block
    assert '"plotColorPalette": "#0969da"' in block


def test_a_line_chart_refuses_what_mermaid_would_draw_wrong() -> None:
    def chart(values: list[float]) -> list[str]:
        return mermaid.line_chart('a "title"', ("x", 0, 100), ("y", 0, 1), {"a": ("#000", values)})

    with pytest.raises(ValueError, match="step evenly"):
        chart([0.0] * 20)  # 100 / 19: older releases drop the last value
    with pytest.raises(ValueError, match="cannot draw nan"):
        chart([float("nan")] * 21)
    block = chart([1e-9] * 21)
    assert "title \"a 'title'\"" in block[3]  # the grammar has no escape for a double quote
    assert "e-" not in block[6]


def test_the_comment_leaves_out_whole_sections_to_fit_a_github_comment() -> None:
    chart = mermaid.line_chart("t", ("x", 0, 100), ("y", 0, 1), {"a": ("#000", [0.5] * 21)})
    sections = [("Curves", chart), ("Slices", ["x" * 500]), ("Plots", ["see the artifact"])]
    text = pr_report.fit(["# Report"], sections, limit=600)
    note = "\nLeft out to fit a GitHub comment: Slices, Plots.\n"
    assert text.endswith(note)
    assert len(text) - len(note) <= 600
    assert "## Curves" in text
    assert "## Slices" not in text
    assert pr_report.fit(["# Report"], sections, limit=10_000).count("## ") == 3


# Mermaid's own parser, in Node with a stand-in DOM (its sanitizer wants one): the first release
# that draws `xychart-beta` and a current one; GitHub runs one of these or one in between.
MERMAID_RELEASES = ("10.6.0", "12.3.0")
HAPPY_DOM = "happy-dom@21.0.4"
PARSE_JS = """
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Window } from 'happy-dom';

const window = new Window();
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import(pathToFileURL(process.argv[2]).href);
const results = [];
for (const text of JSON.parse(readFileSync(0, 'utf8'))) {
  try {
    await mermaid.parse(text);
    const { db } = await mermaid.mermaidAPI.getDiagramFromText(text);
    const data = db.getXYChartData?.();  // the parsed chart, in releases that expose it
    const plots = data?.plots.map((p) => ({ name: p.title, colour: p.strokeFill, points: p.data }));
    results.push({ title: db.getDiagramTitle(), plots: plots ?? null });
  } catch (error) {
    results.push({ error: String(error.message).split('\\n')[0] });
  }
}
await window.happyDOM.close();
process.stdout.write('\\n' + JSON.stringify(results));
"""


@pytest.fixture(scope="module")
def mermaid_parse(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, list[str]], list[dict[str, Any]]]:
    """``parse(release, blocks)``: each block's title and lines as Mermaid read them, or its error.

    One small package from npm (happy-dom) and Mermaid's release tarballs, whose ESM bundle
    carries its own dependencies: about 35 MB, a few seconds from npm's cache.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed to run Mermaid's own parser on the chart blocks")
    folder = tmp_path_factory.mktemp("mermaid")
    (folder / "package.json").write_text('{"private": true}')
    (folder / "parse.mjs").write_text(PARSE_JS)
    quiet = ("--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error")
    run(npm, "install", *quiet, "--no-package-lock", HAPPY_DOM, cwd=folder)
    for release in MERMAID_RELEASES:
        run(npm, "pack", *quiet, f"mermaid@{release}", cwd=folder)
        with tarfile.open(folder / f"mermaid-{release}.tgz") as archive:
            code = [m for m in archive.getmembers() if not m.name.endswith((".map", ".d.ts"))]
            archive.extractall(folder / release, members=code, filter="data")

    def parse(release: str, blocks: list[str]) -> list[dict[str, Any]]:
        bundle = folder / release / "package/dist/mermaid.esm.min.mjs"
        result = subprocess.run(
            [node, "parse.mjs", str(bundle)],
            input=json.dumps(blocks),
            capture_output=True,
            text=True,
            cwd=folder,
            check=False,
        )
        if result.returncode:
            pytest.fail(f"node parse.mjs exited {result.returncode}:\n{result.stderr}")
        return json.loads(result.stdout.splitlines()[-1])

    return parse


@pytest.mark.parametrize("release", MERMAID_RELEASES)
def test_the_chart_blocks_parse_in_mermaid(
    project: dict[str, Any],
    mermaid_parse: Callable[[str, list[str]], list[dict[str, Any]]],
    release: str,
) -> None:
    blocks = chart_blocks(project["comment"])
    broken = blocks[0].replace("0 --> 100", "0 --> 1e2")  # the parser is live: no exponents
    *results, refused = mermaid_parse(release, [*blocks, broken])
    assert "error" in refused
    assert [result.get("error") for result in results] == [None, None]
    assert results[0]["title"].startswith("ROC: base AUC")
    if results[0]["plots"] is not None:  # the release exposes what it parsed: check the lines
        for result, block in zip(results, blocks, strict=True):
            assert [plot["name"] for plot in result["plots"]] == ["base", "this"]
            assert [plot["colour"] for plot in result["plots"]] == ["#8c959f", "#0969da"]
            drawn = [[x for x, _ in plot["points"]] for plot in result["plots"]]
            assert drawn == [[str(5 * k) for k in range(21)]] * 2  # every value, at its x
            assert [[y for _, y in plot["points"]] for plot in result["plots"]] == list(
                _lines(block).values()
            )
