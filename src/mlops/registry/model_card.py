"""Model cards: what a registered version is for, what it was trained on, how well it does."""

from __future__ import annotations

from typing import Any

import yaml

from mlops import git
from mlops.config import TargetParams
from mlops.markdown import table as markdown_table
from mlops.paths import SLICES_JSON
from mlops.registry import lineage


def _slice_table(slices: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    lines = []
    for column, values in slices.items():
        rows = [
            [
                value,
                f"{m['rows']:,}",
                f"{m['positive_rate']:.3f}",
                f"{m['roc_auc']:.4f}",
                f"{m['f1']:.4f}",
            ]
            for value, m in values.items()
        ]
        header = ["value", "rows", "positive rate", "ROC AUC", "F1"]
        lines += ["", f"**By {column}**", "", *markdown_table(header, rows, "lrrrr")]
    return lines


def _label(params: dict[str, Any]) -> str:
    """The label rule as params.yaml at the version's commit states it."""
    target = params.get("features", {}).get("target", {})
    try:
        return TargetParams.model_validate(target).describe()
    except ValueError:  # a params file from before the rule could be checked
        return str(target)


def _holdout(split: dict[str, Any]) -> str:
    method = split.get("method", "time")
    if method == "time":
        return f"the last {split.get('holdout_days')} days of that data"
    share = f"{split.get('holdout_share', 0.2):.0%}"
    if method == "group":
        return f"{share} of the groups of {split.get('group_column')!r}, none shared with training"
    return f"{share} of the rows, drawn at random, stratified by the label"


def render(version: str) -> str:
    """The markdown card of ``version``, built from git at its tag (the same card every time)."""
    facts = lineage.record(version)
    commit = facts["git_commit"]
    params = yaml.safe_load(git.show(commit, "params.yaml") or "{}") or {}
    card: dict[str, Any] = params.get("model_card", {})
    metrics = facts["metrics"] or {}
    slices = lineage.json_at(commit, SLICES_JSON) or {}
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
        f"- Code: commit `{commit}`; model `{facts['model_md5']}`",
        "",
        "## Data",
        "",
        f"- Version `{facts['data']['md5']}` (data.dvc), "
        f"months {', '.join(facts['data']['months'])}",
        *(
            f"- {batch['rows']} labelled production rows from `{batch['log']}`, "
            f"{batch['since'][:10]} to {batch['until'][:10]} ({batch['label_source']})"
            for batch in facts["data"]["production"]
        ),
        f"- Holdout: {_holdout(params.get('split', {}))}",
        "",
        "## Performance on the holdout",
        "",
        "| metric | value |",
        "|---|---:|",
        *[f"| {name} | {value} |" for name, value in metrics.items()],
        *_slice_table(slices),
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
