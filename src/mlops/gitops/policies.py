"""What the workflows decide, as functions: the policies live here, the YAML only calls them.

- ``retrain_plan``: after a retraining run, report, propose or merge (``gitops.retrain``),
  and never any of the last two when the gate rejected the model.
- ``notify``: after monitoring, open or update one issue with the report, and on sustained
  drift dispatch the retraining workflow with the period to learn from.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from mlops.config import GitOpsParams
from mlops.gitops import github
from mlops.monitoring import alerts, monitor_report
from mlops.monitoring.monitor import DATA_QUALITY, DRIFT, NO_DATA

RETRAIN_EVENT = "retrain"
ISSUE_TITLES = {
    DRIFT: "Model monitoring: sustained drift",
    DATA_QUALITY: "Model monitoring: data-quality failure",
    NO_DATA: "Model monitoring: no traffic to judge",
}


def retrain_plan(settings: GitOpsParams, gate_record: dict[str, Any]) -> dict[str, Any]:
    """``report`` | ``propose`` | ``merge``: what a retraining run does with its model."""
    verdict = gate_record.get("verdict")
    if verdict != "promote":
        failed = [rule["name"] for rule in gate_record.get("rules", []) if not rule["passed"]]
        return {"action": "report", "reason": f"the gate says {verdict}: {', '.join(failed)}"}
    if settings.retrain == "alert":
        return {"action": "report", "reason": "gitops.retrain is alert: report only"}
    action = "merge" if settings.retrain == "auto" else "propose"
    return {
        "action": action,
        "reason": f"the gate says promote; gitops.retrain is {settings.retrain}",
    }


def retrain_payload(report: dict[str, Any]) -> dict[str, Any]:
    """What the retraining workflow needs: the log and the days its drifting windows cover."""
    drifting = [w for w in report["windows"] if w["window"] in report["decision"]["drift_windows"]]
    since = min(pd.Timestamp(w["start"]) for w in drifting).floor("D")
    until = max(pd.Timestamp(w["end"]) for w in drifting).floor("D") + timedelta(days=1)
    return {
        "reason": report["decision"]["reason"],
        "log": report["log"],
        "since": since.strftime("%Y-%m-%d"),
        "until": until.strftime("%Y-%m-%d"),
        "windows": report["decision"]["drift_windows"],
    }


def notify(report_dir: Path, settings: GitOpsParams, run_url: str = "") -> dict[str, Any]:
    """Act on a monitoring report: nothing, an issue, or an issue and a retraining dispatch."""
    report = json.loads((report_dir / "drift.json").read_text())
    status = report["decision"]["status"]
    if status not in ISSUE_TITLES:
        return {"status": status, "issue": None, "dispatched": None}
    body = (report_dir / "drift.md").read_text()
    if run_url:
        body += f"\nFull report with plots: the artifacts of {run_url}\n"
    issue = github.upsert_issue(ISSUE_TITLES[status], body, settings.issue_label)
    if os.environ.get(alerts.WEBHOOK_ENV):  # a chat alert too, where the team set one up
        alerts.post(monitor_report.alert_text(report))
    payload = None
    if status == DRIFT:
        payload = retrain_payload(report)
        github.dispatch(RETRAIN_EVENT, payload)
    return {"status": status, **issue, "dispatched": payload}
