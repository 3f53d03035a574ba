"""The model card, the gate's page and the pull-request comment of a regression and a multiclass
model: each states its task, judges it by the task's metrics and draws what the task's evaluate
stage writes, in Mermaid blocks that Mermaid's own parser reads.

As in test_pr_charts.py: made-up labels and predictions, the evaluate stage's files written by
the pipeline's own functions at a base and a head revision of a temporary git and DVC
repository, and the gate record made by the gate's own rules and bootstrap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops.columns import LABEL
from mlops.config import EvidenceParams, GateParams
from mlops.gitops import pr_charts, pr_report
from mlops.paths import METRICS_JSON
from mlops.pipeline import metrics, plots
from mlops.registry import bootstrap, gate, model_card
from mlops.registry.gate_rules import decide
from mlops.task import Predictions, Task
from tests.conftest import run
from tests.test_pr_charts import MERMAID_RELEASES, chart_blocks, mermaid_parse

__all__ = ["mermaid_parse"]  # Mermaid's own parser, the fixture test_pr_charts.py defines

ROWS = 600  # under 1,000: counts must read as counts, not as 600.0000
CLASSES = ("Adelie", "Chinstrap", "Gentoo sp.")
FIRST, BASE = "first", "base"


def _holdout(task: Task) -> pd.DataFrame:
    generator = np.random.default_rng(0)
    labels = (
        generator.choice(np.array(CLASSES, dtype=object), ROWS, p=[0.45, 0.2, 0.35])
        if task is Task.MULTICLASS
        else generator.normal(10.0, 3.0, ROWS)
    )
    return pd.DataFrame({LABEL: labels, "group": np.where(np.arange(ROWS) % 3, "a", "b")})


def _predictions(task: Task, labels: np.ndarray, quality: float) -> Predictions:
    """Predictions that are better the larger ``quality``: a regression's shrink towards the
    mean (biased at both ends), a classifier's probabilities favour the true class."""
    generator = np.random.default_rng(int(quality * 10))
    if task is Task.REGRESSION:
        values = quality * labels + (1 - quality) * 10.0 + generator.normal(0, 1.0, len(labels))
        return Predictions(task, values)
    truth = (labels[:, None] == np.array(CLASSES, dtype=object)[None, :]).astype(float)
    logits = quality * truth + generator.normal(0, 1.0, truth.shape)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return Predictions(task, probabilities, classes=CLASSES)


def _summary(holdout: pd.DataFrame, predicted: Predictions) -> dict[str, Any]:
    labels = holdout[LABEL].to_numpy()
    return {
        "metrics": metrics.score(labels, predicted),
        "slices": metrics.by_slice(holdout, labels, predicted, ["group"], 100),
        "p99_single_row_ms": 1.0,
        "model_size_bytes": 5000,
    }


def _evaluate(repo: Path, holdout: pd.DataFrame, predicted: Predictions, complete: bool) -> None:
    """The evaluate stage's small outputs, as evaluate writes them; without the plot data and
    per-class metrics unless ``complete`` (an evaluate stage from before the task had them)."""
    labels = holdout[LABEL].to_numpy()
    overall = metrics.score(labels, predicted)
    if complete and predicted.task is Task.MULTICLASS:
        per_class = metrics.per_class_roc_auc(labels, predicted)
        overall.update({f"roc_auc[{name}]": value for name, value in per_class.items()})
    reports = repo / "reports"
    (reports / "plots").mkdir(parents=True, exist_ok=True)
    files = {
        "metrics.json": overall,
        "slices.json": metrics.by_slice(holdout, labels, predicted, ["group"], 100),
        "profile.json": {"model_size_bytes": 5000},
        "data_quality.json": {
            "tables": {"t": {"rows_in": ROWS, "duplicates_removed": 0, "rows_out": ROWS}}
        },
    }
    if complete:
        curves = plots.curves(labels, predicted, 200, 10).items()
        files.update({f"plots/{name}.json": points for name, points in curves})
        if predicted.task is Task.MULTICLASS:
            decided = pd.DataFrame({"actual": labels, "predicted": predicted.decisions()})
            decided.to_csv(reports / "plots/confusion.csv", index=False)
    for name, content in files.items():
        (reports / name).write_text(json.dumps(content))
    (reports / "data_quality.md").write_text("No missing values.\n")


def _commit(repo: Path, message: str, branch: str | None = None) -> None:
    run("git", "add", "--all", cwd=repo)
    run("git", "commit", "--quiet", "-m", message, cwd=repo)
    if branch:
        run("git", "branch", branch, cwd=repo)


def gate_record(
    holdout: pd.DataFrame, head: Predictions, base: Predictions, primary: str
) -> dict[str, Any]:
    """The record ``mlops gate`` writes of ``head`` against ``base`` in production."""
    rules = GateParams(
        primary=primary,
        floors={},
        min_slice_rows=100,
        evidence=EvidenceParams(resamples=200, seed=1),
    )
    candidate = {"model_md5": "a" * 32, **_summary(holdout, head)}
    champion = {"version": "v1.0.0", "model_md5": "b" * 32, **_summary(holdout, base)}
    evidence = bootstrap.evidence(holdout, (candidate, head), (champion, base), rules)
    decided = decide(rules, candidate, champion, evidence)
    return {
        "verdict": "promote" if all(rule.passed for rule in decided) else "reject",
        "primary": primary,
        "rules": [vars(rule) for rule in decided],
        "evidence": evidence,
        "candidate": candidate,
        "champion": champion,
        "holdout_rows": ROWS,
        "data": {"md5": "d" * 32, "months": [], "production_rows": 0},
    }


def _project(task: Task, folder: Path) -> dict[str, Any]:
    """Three revisions: ``first`` (metrics, no plot data), ``base`` and a better head with its
    gate record; the comment built against ``base`` and against ``first``."""
    repo = folder / "repo"
    repo.mkdir()
    run("git", "init", "--quiet", cwd=repo)
    run("dvc", "init", "--quiet", cwd=repo)
    (repo / "dvc.yaml").write_text("metrics:\n  - reports/metrics.json\n  - reports/profile.json\n")
    holdout = _holdout(task)
    labels = holdout[LABEL].to_numpy()
    worse, better = (0.6, 0.9) if task is Task.REGRESSION else (1.5, 3.0)
    base, head = _predictions(task, labels, worse), _predictions(task, labels, better)
    _evaluate(repo, holdout, base, complete=False)
    _commit(repo, "first", FIRST)
    _evaluate(repo, holdout, base, complete=True)
    _commit(repo, "base model", BASE)
    _evaluate(repo, holdout, head, complete=True)
    primary = "rmse" if task is Task.REGRESSION else "macro_f1"  # rmse: lower is better
    record = gate_record(holdout, head, base, primary)
    (repo / "reports/gate.json").write_text(json.dumps(record))
    (repo / "reports/gate.md").write_text(gate.markdown(record))
    _commit(repo, "better model")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(repo)
        comments = {side: pr_report.build(side) for side in (BASE, FIRST)}
    return {
        "task": task,
        "repo": repo,
        "holdout": holdout,
        "base": base,
        "head": head,
        "metrics": json.loads((repo / METRICS_JSON).read_text()),
        "record": record,
        "comment": comments[BASE],
        "against_first": comments[FIRST],
    }


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _project(Task.REGRESSION, tmp_path_factory.mktemp("regression"))


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _project(Task.MULTICLASS, tmp_path_factory.mktemp("multiclass"))


@pytest.fixture(params=["regression", "multiclass"])
def project(request: pytest.FixtureRequest) -> dict[str, Any]:
    return request.getfixturevalue(request.param)


def _plots(block: str) -> dict[str, tuple[str, list[float]]]:
    """Each plot of a chart block: its kind (line, bar) and values."""
    return {
        name: (kind, [float(value) for value in values.split(", ")])
        for kind, name, values in re.findall(
            r'^    (line|bar) "([^"]+)" \[(.*)\]$', block, flags=re.MULTILINE
        )
    }


def _section(comment: str, title: str) -> str:
    start = comment.index(f"\n## {title}\n")
    end = comment.find("\n## ", start + 1)
    return comment[start : end if end > 0 else None]


def test_a_regression_comment_draws_the_residuals_of_both_and_predicted_against_actual(
    regression: dict[str, Any],
) -> None:
    project = regression
    comment = project["comment"]
    assert "## Curves" not in comment
    assert "ROC" not in comment
    residuals, versus = chart_blocks(_section(comment, "Errors by prediction"))
    metrics_now = project["metrics"]
    assert f"this RMSE {metrics_now['rmse']:.4f}" in residuals
    lines = _plots(residuals)
    assert list(lines) == ["base", "this"]
    groups = pr_charts.GROUPS
    assert all(kind == "line" and len(values) == groups for kind, values in lines.values())
    # The base shrinks towards the mean: below it at low predictions, above at high ones; the
    # head is nearly unbiased everywhere.
    base = np.array(lines["base"][1])
    assert base[0] < -0.5 < 0.5 < base[-1]
    assert np.abs(lines["this"][1]).max() < np.abs(base).max()
    means = _plots(versus)
    assert list(means) == ["predicted", "actual"]
    assert np.all(np.diff(means["predicted"][1]) > 0)  # groups in order of the prediction
    # Each value is the mean of one of the equal groups of the plot file's rows by prediction
    # (drawn to one decimal: the axis spans some 12 units).
    rows = json.loads((project["repo"] / "reports/plots/predicted_vs_actual.json").read_text())
    ordered = sorted(rows, key=lambda row: row["predicted"])
    for key in ("predicted", "actual"):
        parts = np.array_split(np.array([row[key] for row in ordered]), groups)
        assert means[key][1] == pytest.approx([part.mean() for part in parts], abs=0.051)
    assert "Predicted against actual and the residuals against the base" in comment


def test_a_multiclass_comment_draws_each_class_and_the_confusion_counts(
    multiclass: dict[str, Any],
) -> None:
    project = multiclass
    comment = project["comment"]
    section = _section(comment, "Classes")
    (block,) = chart_blocks(section)
    assert '    x-axis ["Adelie", "Chinstrap", "Gentoo sp."]' in block
    drawn = _plots(block)
    assert list(drawn) == ["this", "base"]
    assert drawn["this"][0] == "bar"
    assert drawn["base"][0] == "line"
    now = project["metrics"]
    assert drawn["this"][1] == [round(now[f"roc_auc[{name}]"], 4) for name in CLASSES]
    # The head separates every class better.
    assert all(np.array(drawn["this"][1]) > np.array(drawn["base"][1]))
    labels = project["holdout"][LABEL].to_numpy()
    decided = project["head"].decisions()
    for actual in CLASSES:
        counts = [int(((labels == actual) & (decided == other)).sum()) for other in CLASSES]
        assert f"| {actual} | {' | '.join(map(str, counts))} |" in section
    assert "| actual | Adelie | Chinstrap | Gentoo sp. |" in section
    assert "The confusion matrix against the base" in comment


def test_the_comment_judges_slices_and_intervals_by_the_gates_primary_metric(
    project: dict[str, Any],
) -> None:
    comment, primary = project["comment"], project["record"]["primary"]
    slices = _section(comment, "Slices")
    assert f"| slice | rows | base {primary} | this {primary} | change |" in slices
    assert "| group=a | 400 |" in slices
    intervals = _section(comment, "Candidate against champion")
    order = "Champion minus candidate" if primary == "rmse" else "Candidate minus champion"
    assert f"{order} in {primary} on the current holdout" in intervals
    assert f"| all rows, {primary} |" in intervals
    assert "| above |" in intervals  # the head is surely better, whichever way is better


def test_the_gate_page_reads_the_tasks_metrics_and_which_way_is_better(
    project: dict[str, Any],
) -> None:
    page = gate.markdown(project["record"])
    assert page in project["comment"]
    primary = project["record"]["primary"]
    order = "Champion minus candidate" if primary == "rmse" else "Candidate minus champion"
    assert f"{order}, {primary} (positive: the candidate is better)" in page
    assert f"| lower bound {primary} vs champion |" in page
    assert "| rows | 600 | 600 |" in page
    head = project["record"]["candidate"]["metrics"]
    named = [line.split(" | ")[0][2:] for line in page.splitlines()[-len(head) :]]
    assert named == list(head)  # the task's metrics, as the gate scored them
    assert "roc_auc " not in page


def test_a_base_without_plot_data_leaves_its_side_out(project: dict[str, Any]) -> None:
    blocks = chart_blocks(project["against_first"])
    assert blocks
    for block in blocks:
        assert "base" not in _plots(block)  # the first revision has no plot data, no per class
    if project["task"] is Task.MULTICLASS:
        assert "line base" not in blocks[0]


def test_a_multiclass_chart_without_a_base_or_confusion_file_draws_what_there_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no reports/plots/confusion.csv here
    diff = {str(METRICS_JSON): {"roc_auc[a]": {"new": 0.9}, "roc_auc[b]": {"new": 0.8}}}
    lines = pr_charts.classes(BASE, diff)
    assert _plots("\n".join(lines)) == {"this": ("bar", [0.9, 0.8])}
    assert not any("Confusion" in line for line in lines)
    assert pr_charts.classes(BASE, {}) == []


@pytest.mark.parametrize("release", MERMAID_RELEASES)
def test_every_chart_parses_in_mermaid(
    project: dict[str, Any],
    mermaid_parse: Callable[[str, list[str]], list[dict[str, Any]]],
    release: str,
) -> None:
    blocks = chart_blocks(project["comment"]) + chart_blocks(project["against_first"])
    results = mermaid_parse(release, blocks)
    assert [result.get("error") for result in results] == [None] * len(blocks)
    for result, block in zip(results, blocks, strict=True):
        assert result["title"] in block
        if result["plots"] is not None:  # the release exposes what it parsed: check the plots
            plotted = {p["name"]: [float(y) for _, y in p["points"]] for p in result["plots"]}
            assert plotted == {name: values for name, (_, values) in _plots(block).items()}
            if "x-axis [" in block:  # the classes, one bar each
                assert {tuple(x for x, _ in p["points"]) for p in result["plots"]} == {CLASSES}


def _facts(task_metrics: dict[str, float]) -> dict[str, Any]:
    """A version's lineage, as ``lineage.record`` reads it from git."""
    return {
        "tag": "model@v1.0.0",
        "git_commit": "c" * 40,
        "model_md5": "m" * 32,
        "params": {
            "estimator": "hist_gradient_boosting",
            "hyperparameters": {"max_iter": 60},
            "features": {"categorical": ["island"], "numeric": ["bill_length_mm"]},
        },
        "data": {"md5": "d" * 32, "months": [], "production": []},
        "metrics": task_metrics,
        "gate": {"verdict": "promote", "champion": None, "sha256": "s" * 64},
    }


@pytest.mark.parametrize("task", [Task.REGRESSION, Task.MULTICLASS], ids=str)
def test_a_model_card_states_the_task_its_metrics_and_classes(task: Task) -> None:
    holdout = _holdout(task)
    labels = holdout[LABEL].to_numpy()
    predicted = _predictions(task, labels, 0.9 if task is Task.REGRESSION else 3.0)
    overall = metrics.score(labels, predicted)
    if task is Task.MULTICLASS:
        per_class = metrics.per_class_roc_auc(labels, predicted)
        overall.update({f"roc_auc[{name}]": value for name, value in per_class.items()})
    column = "Sales" if task is Task.REGRESSION else "species"
    params = {
        "task": str(task),
        "features": {"target": {"column": column}},
        "split": {"method": "random", "holdout_share": 0.3},
    }
    slices = metrics.by_slice(holdout, labels, predicted, ["group"], 100)
    card = model_card.compose(_facts(overall), params, slices)
    assert f"- Label: `{column} ({task})`" in card
    assert "threshold" not in card
    assert "months" not in card  # rows without a time
    assert "- Holdout: 30% of the rows, drawn at random" in card
    assert ("stratified by the label" in card) is (task is Task.MULTICLASS)
    header = (
        "| value | rows | mean target | r2 | mae | rmse |"
        if task is Task.REGRESSION
        else "| value | rows | macro_f1 | weighted_f1 | accuracy | log_loss | roc_auc_ovr |"
    )
    assert header in card
    a = slices["group"]["a"]
    assert f"| a | 400 | {' | '.join(f'{a[key]:.4f}' for key in list(a)[1:])} |" in card
    classes = "- Classes in the holdout: Adelie, Chinstrap, Gentoo sp."
    assert (classes in card) is (task is Task.MULTICLASS)
    assert "positive rate" not in card
    assert "ROC AUC" not in card
