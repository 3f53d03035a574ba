"""``mlops gate``: the candidate against the model in production, on the same current holdout.

Both models are scored now, on today's holdout; a number stored when the champion was trained
(another split, other data) is never compared. Declarative rules from ``params.yaml`` decide,
and the decision is written down whatever it is.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mlops import artifact, dvc, git, yamlio
from mlops.columns import LABEL
from mlops.config import PARAMS_FILE, Params, params_sha256
from mlops.data import datastore
from mlops.data.featurize import part_path
from mlops.errors import MlopsError
from mlops.markdown import table as markdown_table
from mlops.paths import GATE_JSON, GATE_MD, MODEL_DIR
from mlops.pipeline.metrics import by_slice, score
from mlops.registry import bootstrap, versions
from mlops.registry.gate_rules import decide
from mlops.serving import latency, servable
from mlops.tables import write_json, write_text
from mlops.task import Predictions, lower_is_better


class GateError(MlopsError):
    """The gate could not decide (no candidate, unreadable model, champion not fetchable).

    Never a reject: a reject is a decision, this is the absence of one.
    """


def _load(folder: Path) -> servable.ServedModel:
    """The model as the service would serve it: scored, and timed on the service's path."""
    try:
        return servable.load(servable.FolderSource(folder))
    except (servable.ModelLoadError, artifact.UntrustedModelError) as error:
        raise GateError(str(error)) from error


Scored = tuple[dict[str, Any], Predictions]


def _score(folder: Path, holdout: pd.DataFrame, params: Params) -> Scored:
    """The model's numbers for the record, and its scores of each row for the bootstrap."""
    served = _load(folder)
    model = served.artifact
    try:
        inputs = model.inputs(holdout)
    except KeyError as error:
        raise GateError(
            f"the model in {folder} needs columns the holdout lacks: {error}"
        ) from error
    labels = holdout[LABEL].to_numpy()
    predicted = model.predictions(inputs)
    timing = latency.single_row(served, inputs, params.profile.single_row_calls)
    summary = {
        "metrics": score(labels, predicted),
        "slices": by_slice(
            holdout, labels, predicted, params.evaluate.slices, params.gate.min_slice_rows
        ),
        "p99_single_row_ms": timing["p99_ms"],
        "model_size_bytes": (folder / artifact.MODEL_FILE).stat().st_size,
    }
    return summary, predicted


def _champion(holdout: pd.DataFrame, params: Params) -> Scored | None:
    version = versions.current(versions.production_stage())
    if version is None:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        try:
            folder = versions.fetch(version, Path(scratch))
        except dvc.DvcError as error:
            raise GateError(f"cannot fetch the champion {version}: {error}") from error
        summary, scores = _score(folder, holdout, params)
        identity = {"version": version, "model_md5": versions.model_md5(versions.tag(version))}
        return {**identity, **summary}, scores


def _candidate_md5() -> str:
    if dvc.run("status", "--quiet", check=False).returncode:
        raise GateError("the workspace differs from dvc.lock: run `dvc repro` before the gate")
    md5 = dvc.locked_md5(Path("dvc.lock").read_text(), versions.model_entry().path)
    if md5 is None:
        raise GateError("dvc.lock records no model: run `dvc repro` before the gate")
    return md5


def run(params: Params) -> dict[str, Any]:
    """Score, decide, and write ``reports/gate.json`` and ``reports/gate.md``."""
    if not (MODEL_DIR / artifact.MODEL_FILE).exists():
        raise GateError(f"no candidate model in {MODEL_DIR}/: run `dvc repro` first")
    holdout = pd.read_parquet(part_path("holdout"))
    md5 = _candidate_md5()
    summary, scores = _score(MODEL_DIR, holdout, params)
    candidate = {"model_md5": md5, **summary}
    scored = _champion(holdout, params)
    if scored and scored[1].task is not scores.task:
        raise GateError(
            f"the model in production is a {scored[1].task} model and the candidate a "
            f"{scores.task} one: the gate compares like with like. A new task is a new model "
            "line: give it its own registry (gto.yaml) or retire the old one first"
        )
    champion = scored[0] if scored else None
    evidence = (
        bootstrap.evidence(holdout, (candidate, scores), scored, params.gate) if scored else None
    )
    rules = decide(params.gate, candidate, champion, evidence)
    record = {
        "verdict": "promote" if all(rule.passed for rule in rules) else "reject",
        "primary": params.gate.primary,
        "rules": [asdict(rule) for rule in rules],
        "evidence": evidence,
        "candidate": candidate,
        "champion": champion,
        "holdout_rows": len(holdout),
        "data": {
            "md5": dvc.tracked_output(datastore.dvc_file(params))["md5"],
            "months": datastore.months(params),
            "production_rows": datastore.production_rows(params),
        },
        "git": {"commit": git.commit(), "dirty": git.is_dirty()},
        "params_sha256": params_sha256(yamlio.load(PARAMS_FILE.read_text())),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(GATE_JSON, record)
    write_text(GATE_MD, markdown(record))
    return record


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):  # a count (rows, bytes)
        return f"{value:,}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}"


def _gain_order(metric: str) -> str:
    """Which way round a gain in ``metric`` is taken (``task.gain``): positive always means
    the candidate is better."""
    return "champion minus candidate" if lower_is_better(metric) else "candidate minus champion"


def _months(data: dict[str, Any]) -> str:
    """The months the data version holds, when its rows have a time."""
    return f", months {', '.join(data['months'])}" if data.get("months") else ""


def _production(data: dict[str, Any]) -> str:
    rows = data.get("production_rows", 0)
    return f", plus {rows:,} labelled production rows" if rows else ""


def _evidence(evidence: dict[str, Any], rows: int) -> list[str]:
    """The candidate's gain over the champion with its interval, overall and per slice: the
    primary rule reads the lower bounds, the slice rules the upper ones."""
    overall = {**evidence["primary"], "name": "all", "rows": rows}
    slices = [{**item, "name": f"{item['column']}={item['value']}"} for item in evidence["slices"]]
    table = [
        [
            item["name"],
            f"{item['rows']:,}",
            *(f"{item[key]:+.4f}" for key in ("difference", "low", "high")),
        ]
        for item in (overall, *slices)
    ]
    return [
        "",
        f"{_gain_order(overall['metric']).capitalize()}, {overall['metric']} "
        "(positive: the candidate is better), with "
        f"{evidence['level']:.0%} intervals from {evidence['resamples']:,} paired bootstrap "
        f"resamples of the holdout rows (seed {evidence['seed']}):",
        "",
        *markdown_table(["rows", "count", "difference", "low", "high"], table, "lrrrr"),
    ]


def markdown(record: dict[str, Any]) -> str:
    """The decision as a page a pull-request comment can embed: failures first."""
    champion = record["champion"]
    verdict = "✅ promote" if record["verdict"] == "promote" else "❌ reject"
    against = (
        f"the production model **{champion['version']}**, both scored on"
        if champion
        else "floors and budgets only (no model in production yet), scored on"
    )
    lines = [
        f"## Model gate: {verdict}",
        "",
        f"Candidate `{record['candidate']['model_md5'][:12]}` against {against} "
        f"the current holdout ({record['holdout_rows']:,} rows; data `{record['data']['md5'][:12]}`"
        f"{_months(record['data'])}"
        f"{_production(record['data'])}).",
        "",
    ]
    rules = sorted(record["rules"], key=lambda rule: rule["passed"])
    passed_slices = [rule for rule in rules if rule["passed"] and rule["name"].startswith("slice ")]
    rows = [
        [
            rule["name"],
            *(_number(rule[key]) for key in ("value", "limit", "candidate", "champion")),
            "pass" if rule["passed"] else "**fail**",
        ]
        for rule in rules
        if rule not in passed_slices
    ]
    if passed_slices:
        rows.append([f"{len(passed_slices)} slice checks", "", "", "", "", "pass"])
    header = ["rule", "value", "limit", "candidate", "champion", "result"]
    lines += markdown_table(header, rows, "lrrrrl")
    if record.get("evidence"):
        lines += _evidence(record["evidence"], record["holdout_rows"])
    metrics = [
        [name, _number(value), _number(champion["metrics"].get(name) if champion else None)]
        for name, value in record["candidate"]["metrics"].items()
    ]
    lines += ["", *markdown_table(["metric", "candidate", "champion"], metrics, "lrr")]
    return "\n".join(lines) + "\n"
