"""Model cards: what a registered version is for, what it was trained on, how well it does."""

from __future__ import annotations

from typing import Any

from mlops import git, yamlio
from mlops.config import TargetParams
from mlops.markdown import table as markdown_table
from mlops.paths import SLICES_JSON
from mlops.registry import lineage
from mlops.task import METRICS, Task, per_class_auc

# Each slice's numbers on the card: (header, key in slices.json, format). A binary card keeps
# its three; another task shows its label summary and every metric of the task.
_BINARY_SLICE_COLUMNS = (
    ("positive rate", "positive_rate", ".3f"),
    ("ROC AUC", "roc_auc", ".4f"),
    ("F1", "f1", ".4f"),
)


def _slice_columns(task: Task) -> tuple[tuple[str, str, str], ...]:
    if task is Task.BINARY:
        return _BINARY_SLICE_COLUMNS
    summary = (("mean target", "mean_target", ".4f"),) if task is Task.REGRESSION else ()
    return (*summary, *((name, name, ".4f") for name in METRICS[task]))


def _slice_table(slices: dict[str, dict[str, dict[str, float]]], task: Task) -> list[str]:
    columns = _slice_columns(task)
    header = ["value", "rows", *(title for title, _, _ in columns)]
    lines = []
    for column, values in slices.items():
        rows = [
            [value, f"{m['rows']:,}", *(format(m[key], spec) for _, key, spec in columns)]
            for value, m in values.items()
        ]
        align = "l" + "r" * (len(header) - 1)
        lines += ["", f"**By {column}**", "", *markdown_table(header, rows, align)]
    return lines


def _task(params: dict[str, Any]) -> Task:
    return Task(params.get("task", Task.BINARY))  # params from before tasks: binary


def _label(params: dict[str, Any]) -> str:
    """The label rule as params.yaml at the version's commit states it (``Params.label_rule``)."""
    target = params.get("features", {}).get("target", {})
    task = _task(params)
    if task is not Task.BINARY:
        return f"{target.get('column')} ({task})"
    try:
        return TargetParams.model_validate(target).describe()
    except ValueError:  # a params file from before the rule could be checked
        return str(target)


def _classes(metrics: dict[str, Any]) -> list[str]:
    """A multiclass model's classes as its evaluation names them (``roc_auc[<class>]``): those
    the holdout holds, since the model's own list is in its DVC-tracked folder, not in git."""
    return list(per_class_auc(metrics))


def _months(months: list[str]) -> str:
    """The months the data version holds, when its rows have a time."""
    return f", months {', '.join(months)}" if months else ""


def _holdout(split: dict[str, Any], task: Task) -> str:
    method = split.get("method", "time")
    if method == "time":
        return f"the last {split.get('holdout_days')} days of that data"
    share = f"{split.get('holdout_share', 0.2):.0%}"
    if method == "group":
        return f"{share} of the groups of {split.get('group_column')!r}, none shared with training"
    stratified = ", stratified by the label" if task.classifies else ""
    return f"{share} of the rows, drawn at random{stratified}"


def render(version: str) -> str:
    """The markdown card of ``version``, built from git at its tag (the same card every time)."""
    facts = lineage.record(version)
    commit = facts["git_commit"]
    params = yamlio.load(git.show(commit, "params.yaml") or "{}") or {}
    return compose(facts, params, lineage.json_at(commit, SLICES_JSON) or {})


def compose(facts: dict[str, Any], params: dict[str, Any], slices: dict[str, Any]) -> str:
    """The card from a version's lineage (``lineage.record``), its params.yaml and slices.json."""
    commit = facts["git_commit"]
    task = _task(params)
    card: dict[str, Any] = params.get("model_card", {})
    metrics = facts["metrics"] or {}
    classes = _classes(metrics) if task is Task.MULTICLASS else []
    lines = [
        f"# Model card: {facts['tag']}",
        "",
        "## Intended use",
        "",
        card.get("intended_use", "Not stated (params.yaml: model_card.intended_use)."),
        "",
        "## Model",
        "",
        f"- Estimator: `{facts['params']['estimator']}` with {facts['params']['hyperparameters']}",
        f"- Inputs: {', '.join(facts['params']['features']['categorical'] or [])} (categorical); "
        f"{', '.join(facts['params']['features']['numeric'] or [])} (numeric)",
        f"- Label: `{_label(params)}`",
        *([f"- Classes in the holdout: {', '.join(classes)}"] if classes else []),
        f"- Code: commit `{commit}`; model `{facts['model_md5']}`",
        "",
        "## Data",
        "",
        f"- Version `{facts['data']['md5']}` (data.dvc){_months(facts['data']['months'])}",
        *(
            f"- {batch['rows']} labelled production rows from `{batch['log']}`, "
            f"{batch['since'][:10]} to {batch['until'][:10]} ({batch['label_source']})"
            for batch in facts["data"]["production"]
        ),
        f"- Holdout: {_holdout(params.get('split', {}), task)}",
        "",
        "## Performance on the holdout",
        "",
        "| metric | value |",
        "|---|---:|",
        *[f"| {name} | {value} |" for name, value in metrics.items()],
        *_slice_table(slices, task),
        "",
        "## Gate decision",
        "",
        f"{facts['gate']['verdict']} against {facts['gate']['champion'] or 'no champion'} "
        f"(record sha256 `{facts['gate']['sha256']}`)",
        "",
        "## Limitations",
        "",
        *[f"- {item}" for item in card.get("limitations", [])],
    ]
    return "\n".join(lines) + "\n"
