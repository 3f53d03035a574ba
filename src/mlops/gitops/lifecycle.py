"""``mlops lifecycle``: the whole loop on real data, month by month, with the workflows' steps.

In a temporary clone with a bare origin, a local DVC remote and a local GitHub stand-in:

1. the first model goes through a pull request (``model-pr``), is merged, and released
   (``release``: register, staging, an approval by a named person, prod);
2. each later month's flights are replayed through HTTP to the production model, which
   collects them, and their true labels come back as feedback;
3. after each month ``monitor`` runs: drift, data quality and live performance of the
   production model on the traffic it scored; sustained drift opens an issue and dispatches
   ``retrain``, which learns from the labelled production rows, gates the candidate against
   production, and proposes it; the proposal is merged and released, or the gate rejects it.

The result is a timeline, one row per month, an HTML report with plots, and the lineage of
every registered version.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from sklearn.metrics import roc_auc_score

from mlops import artifact, dvc, git
from mlops.columns import LABEL
from mlops.config import Params
from mlops.errors import MlopsError
from mlops.gitops import replay
from mlops.gitops.local_github import REPOSITORY
from mlops.gitops.rehearsal import JobResult, Project, RehearsalError, project
from mlops.markdown import table as markdown_table
from mlops.monitoring import html_report
from mlops.paths import GATE_JSON
from mlops.serving.serving_process import serving
from mlops.tables import write_json, write_text
from mlops.task import Task

PRODUCTION = "production"


@dataclass(frozen=True)
class Settings:
    months: list[str]  # replayed as production traffic, in order
    every: int  # every n-th flight, for the first data version and the traffic
    requests_per_second: float  # the traffic's pace; 0: as fast as the service answers
    approver: str  # the reviewer who approves production releases
    out: Path


@dataclass
class Month:
    """One row of the timeline."""

    month: str
    prod_version: str
    rows_served: int = 0
    drift: str = ""
    drift_share: float | None = None
    top_drifted: list[str] = field(default_factory=list)
    live_roc_auc: float | None = None
    challenger: str | None = None
    challenger_roc_auc: float | None = None
    decision: str = "no action"


class Lifecycle:
    """The rehearsed project and what happened to it."""

    def __init__(self, team: Project, params: Params, settings: Settings, scratch: Path) -> None:
        self.team = team
        self.params = params
        self.settings = settings
        self.scratch = scratch
        self.collected = scratch / "collected"
        self.rejected: Path | None = None  # the last candidate the gate turned down, if any

    def _check(self, result: JobResult) -> JobResult:
        if not result.succeeded:
            failed = [s for s in result.steps if s.kind == "run" and s.returncode]
            details = "\n".join(f"{s.command}\n{s.output[-3000:]}" for s in failed)
            raise RehearsalError(f"{result.job} failed:\n{details}")
        return result

    def prod_version(self) -> str:
        shown = json.loads(self.team.mlops("registry", "show", "--json"))
        return shown["stages"].get("prod") or ""

    def merge(self, branch: str, message: str) -> None:
        """The reviewer merges the pull request: its branch into main, published."""
        self.team.git("switch", "--quiet", "-c", branch)
        self.team.git("add", "--all")
        self.team.git("commit", "--quiet", "-m", message)
        self.team.git("switch", "--quiet", "main")
        self.team.git("merge", "--quiet", "--no-ff", "-m", f"Merge {branch}", branch)
        self.team.publish()

    def release(self) -> str:
        """``release.yml``: register, image, staging and production, smoke-tested over HTTP."""
        folder = self.scratch / "release-candidate"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(self.team.repo / "model", folder)
        register = self._check(self.team.job("release", "register", "push"))
        version = register.outputs["version"]
        needs = {"register": {"outputs": {"version": version}}}
        # The service as the pinned overlay runs it: this version, this folder's bytes.
        with serving(Path.cwd(), "--model", str(folder), "--version", version) as service:
            url = service.url
            urls = {"STAGING_URL": url, "PRODUCTION_URL": url}
            image = self._check(self.team.job("release", "image", "push", needs=needs))
            needs["image"] = {"outputs": image.outputs}
            self._check(self.team.job("release", "staging", "push", needs=needs, vars=urls))
            self.team.forge.approve(PRODUCTION, self.settings.approver)
            self._check(self.team.job("release", PRODUCTION, "push", needs=needs, vars=urls))
        self.team.git("pull", "--quiet", "origin", "main")  # the overlay commits
        return version

    def first_model(self) -> str:
        """Months 1-6 through a pull request, merged and released."""
        params = self.params
        self.team.mlops(
            "data",
            "create",
            *(f"--month={month}" for month in params.data.initial_months),
            "--every",
            str(self.settings.every),
        )
        self.team.git("commit", "--quiet", "-m", "Data: the first months", "data.dvc")
        self.team.publish()
        own = {"pull_request": {"head": {"repo": {"full_name": REPOSITORY}}, "number": 1}}
        # The data scientist's pull request carries the model and the gate record made on a
        # laptop; the required check reproduces both in CI and compares them.
        self.team.git("switch", "--quiet", "-c", "first-model")
        self.team.mlops("pipeline")
        self.team.mlops("gate")
        self.team.git("add", "--all")
        self.team.git("commit", "--quiet", "-m", "The first model")
        self._check(
            self.team.job(
                "model-pr", "report", "pull_request", github={"event": own, "base_ref": "main"}
            )
        )
        self.team.git("reset", "--quiet", "--hard")  # CI's workspace ends with its job
        self.team.git("switch", "--quiet", "main")
        self.team.git("merge", "--quiet", "--no-ff", "-m", "Merge first-model", "first-model")
        self.team.publish()
        return self.release()

    def serve_month(self, month: str) -> tuple[int, Any]:
        """Replay the month to the production model; returns the rows served and the month."""
        version = self.prod_version()
        model = self.team.repo / "build/registry" / version
        self.team.mlops("registry", "fetch", version, "--out", "build/registry")
        frame = replay.featurized_months(
            self.scratch / "months" / month,
            self.params,
            [month],
            self.settings.every,
            self.team.repo / "schema.yaml",
        )
        with serving(
            Path.cwd(), "--model", str(model), "--collect", str(self.collected)
        ) as service:
            url = service.url
            sent = replay.replay(
                url,
                frame,
                self.params.features.names,
                cast(str, self.params.data.time_column),  # run() refuses a project without
                requests_per_second=self.settings.requests_per_second,
            )
        return sent["rows"], frame

    @staticmethod
    def score(model_folder: Path, frame: Any) -> float | None:
        """ROC AUC of a model on a month's labelled rows: what it would have scored live."""
        labels = frame[LABEL].to_numpy()
        if len(np.unique(labels)) < 2:
            return None
        model = artifact.load(model_folder)
        return float(roc_auc_score(labels, model.pipeline.predict_proba(model.inputs(frame))[:, 1]))

    def monitor(self, row: Month) -> dict[str, Any] | None:
        """``monitor.yml``; returns the retraining dispatch's payload, if it sent one."""
        before = len(self.team.forge.dispatches())
        variables = {"MLOPS_COLLECT_URL": str(self.collected)}
        self._check(self.team.job("monitor", "drift", "schedule", vars=variables))
        report = json.loads((self.team.repo / "build/monitoring/drift.json").read_text())
        window = next((w for w in report["windows"] if w["window"] == row.month), None)
        if window:
            row.drift, row.drift_share = window["status"], window["drift_share"]
            row.top_drifted = window["drifted"][:3]
        live = {w["window"]: w["metrics"] for w in report["performance"]["windows"]}
        row.live_roc_auc = live.get(row.month, {}).get("roc_auc")
        dispatched = self.team.forge.dispatches()[before:]
        return dispatched[-1]["client_payload"] if dispatched else None

    def retrain(self, payload: dict[str, Any], row: Month, frame: Any) -> str:
        """``retrain.yml`` on the dispatch; merged and released when the gate promotes.

        The candidate is the month's challenger: its holdout is this month's production rows,
        so its score on them is what it would have scored live."""
        event = {"client_payload": payload}
        result = self._check(
            self.team.job("retrain", "retrain", "repository_dispatch", github={"event": event})
        )
        gate = json.loads((self.team.repo / GATE_JSON).read_text())
        candidate = gate["candidate"]["metrics"]["roc_auc"]
        champion = (gate.get("champion") or {}).get("metrics", {}).get("roc_auc")
        kept = self.scratch / "candidates" / row.month
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(self.team.repo / "model", kept)
        row.challenger_roc_auc = self.score(kept, frame)
        scores = f"holdout ROC AUC {candidate:.3f} vs prod {champion:.3f}"
        period = f"{payload['since']}..{payload['until']}"
        if result.step("plan").outputs.get("action") == "report":
            self.team.git("checkout", "--quiet", "--", ".")
            dvc.run("checkout", "--force", "--quiet", cwd=self.team.repo)  # data, model, build
            self.rejected, row.challenger = kept, "candidate (rejected)"
            failed = [r["name"] for r in gate["rules"] if not r["passed"]]
            return f"retrained on {period}: rejected ({', '.join(failed)}; {scores})"
        self.merge(f"retrain-{row.month}", f"Retrain on production rows {period}")
        version = self.release()
        self.rejected, row.challenger = None, f"candidate → {version}"
        return f"retrained on {period}: promoted {version} ({scores})"

    def month(self, month: str) -> Month:
        row = Month(month, self.prod_version())
        row.rows_served, frame = self.serve_month(month)
        if self.rejected is not None:
            row.challenger, row.challenger_roc_auc = (
                "rejected candidate",
                self.score(self.rejected, frame),
            )
        payload = self.monitor(row)
        if payload is not None:
            row.decision = self.retrain(payload, row, frame)
        return row

    def lineage(self) -> dict[str, Any]:
        """Every registered version's lineage, oldest first."""
        versions = json.loads(self.team.mlops("registry", "show", "--json"))["versions"]
        return {v: json.loads(self.team.mlops("lineage", v, "--json")) for v in versions}


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        return ", ".join(value) or "—"
    return str(value)


def timeline_rows(rows: list[Month]) -> list[list[str]]:
    header = [
        "month",
        "prod",
        "rows served",
        "drift",
        "share",
        "top drifted",
        "live ROC AUC (prod)",
        "challenger",
        "challenger ROC AUC",
        "decision",
    ]
    return [
        header,
        *[
            [
                _cell(v)
                for v in (
                    r.month,
                    r.prod_version,
                    r.rows_served,
                    r.drift,
                    r.drift_share,
                    r.top_drifted,
                    r.live_roc_auc,
                    r.challenger,
                    r.challenger_roc_auc,
                    r.decision,
                )
            ]
            for r in rows
        ],
    ]


def _charts(rows: list[Month], drift_share: float) -> list[str]:
    """ROC AUC on each month's traffic, and the share of drifted features against the share at
    which a window counts as drifted (dotted: a retraining)."""
    months = [row.month for row in rows]
    scores = [s for r in rows for s in (r.live_roc_auc, r.challenger_roc_auc) if s is not None]
    quality = html_report.Chart(
        "ROC AUC on each month's traffic (dotted: retraining)",
        months,
        max(min(scores, default=0.5) - 0.05, 0),
        min(max(scores, default=1) + 0.05, 1),
    )
    live, challenger, drift_color, threshold_color = html_report.PALETTE[:4]
    quality.line([r.live_roc_auc for r in rows], live, "prod (live)")
    quality.line([r.challenger_roc_auc for r in rows], challenger, "challenger", dashed=True)
    drift = html_report.Chart("Share of drifted features", months, 0, 1)
    drift.bars([r.drift_share or 0 for r in rows], drift_color, "share of drifted features")
    drift.rule(drift_share, threshold_color, f"dataset drift at {drift_share:g}")
    for index, row in enumerate(rows):
        if row.decision.startswith("retrained"):
            quality.marker(index, "#777")
            drift.marker(index, "#777")
    return [quality.svg(), drift.svg()]


def write(
    rows: list[Month], lineage: dict[str, Any], out: Path, summary: str, drift_share: float
) -> None:
    """``timeline.json``, ``timeline.md``, ``lifecycle.html`` and ``lineage.json``."""
    table = timeline_rows(rows)
    write_json(out / "timeline.json", [row.__dict__ for row in rows])
    write_json(out / "lineage.json", lineage)
    write_text(
        out / "timeline.md",
        "\n".join([f"# Lifecycle\n\n{summary}\n", *markdown_table(table[0], table[1:]), ""]),
    )
    stages = [
        [
            version,
            facts["data"]["md5"][:12],
            ", ".join(facts["data"]["months"]),
            str(sum(b["rows"] for b in facts["data"]["production"])),
            " → ".join(f"{s['stage']} ({s['actor']})" for s in facts["stages"]),
            str((facts["metrics"] or {}).get("roc_auc")),
        ]
        for version, facts in lineage.items()
    ]
    lineage_table = [
        ["version", "data", "months", "production rows", "stages", "holdout ROC AUC"],
        *stages,
    ]
    write_text(
        out / "lifecycle.html",
        html_report.page(
            "Lifecycle",
            summary,
            _charts(rows, drift_share),
            [("Timeline", table), ("Lineage", lineage_table)],
        ),
    )


def run(params: Params, settings: Settings, source: Path) -> dict[str, Any]:
    """The lifecycle of a clone of ``source`` (its committed HEAD); returns the timeline."""
    if params.data.source is None or params.data.time_column is None:
        raise MlopsError(
            "mlops lifecycle replays months written by a data source (params.yaml: data.source "
            "and data.time_column); this project has none: run the workflows' steps instead"
        )
    if params.task is not Task.BINARY:  # its timeline charts a binary model's ROC AUC
        raise MlopsError(
            f"mlops lifecycle replays binary projects so far; this one is a {params.task} "
            "project: run the workflows' steps instead (tests/test_any_data.py does)"
        )
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="mlops-lifecycle-"))
    clone = scratch / "repo"
    git.run("clone", "--quiet", str(source.resolve()), str(clone))
    with project(clone, scratch / "dvc-remote") as team:
        team.actor = "lifecycle"
        life = Lifecycle(team, params, settings, scratch)
        first = life.first_model()
        rows = [life.month(month) for month in settings.months]
        lineage = life.lineage()
    retrained = sum(row.decision.startswith("retrained") for row in rows)
    summary = (
        f"{first} in production first; {len(rows)} months replayed; {retrained} retraining(s); "
        f"prod at the end: {rows[-1].prod_version if rows else first}; "
        f"{time.monotonic() - started:.0f} s"
    )
    write(rows, lineage, settings.out, summary, params.monitor.drift_share)
    shutil.rmtree(scratch, ignore_errors=True)
    return {"summary": summary, "timeline": [row.__dict__ for row in rows], "lineage": lineage}
