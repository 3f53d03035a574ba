"""``mlops lifecycle``, reduced (three months, every twentieth flight): the README's test
command runs the whole loop on real data, through the workflows' own steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SMALL_SAMPLE_PARAMS, clone_project, run, set_params

pytestmark = pytest.mark.slow


def test_the_loop_retrains_on_drift_records_decisions_and_lineage(tmp_path: Path) -> None:
    repo = clone_project(tmp_path / "project")
    set_params(repo, SMALL_SAMPLE_PARAMS)
    run("git", "commit", "--quiet", "-am", "small-sample params", cwd=repo)
    out = tmp_path / "lifecycle"
    months = ["2013-07", "2013-08", "2013-09"]
    result = run(
        "mlops",
        "lifecycle",
        *(f"--month={m}" for m in months),
        "--every",
        "20",
        "--approver",
        "carol",
        "--out",
        str(out),
        cwd=repo,
    )
    timeline = json.loads((out / "timeline.json").read_text())
    assert [row["month"] for row in timeline] == months
    assert all(row["rows_served"] > 0 for row in timeline)
    assert timeline[0]["prod_version"] == "v1.0.0"
    assert all(row["live_roc_auc"] for row in timeline)

    # Summer drifts from the winter-spring model; two months of it trigger retraining.
    assert timeline[0]["drift"] == "drift"
    retrained = [row for row in timeline if row["decision"].startswith("retrained")]
    assert retrained, timeline
    assert retrained[0]["month"] == "2013-08"
    assert "2013-07-01..2013-09-01" in retrained[0]["decision"]

    lineage = json.loads((out / "lineage.json").read_text())
    assert "v1.0.0" in lineage
    first_prod = [s for s in lineage["v1.0.0"]["stages"] if s["stage"] == "prod"]
    assert first_prod[0]["actor"] == "carol"  # the approver, read from the run's approvals
    for version, facts in lineage.items():
        assert facts["version"] == version
        assert facts["git_commit"]
        assert facts["data"]["md5"]
        assert facts["metrics"]
    if retrained[0]["decision"].split(": ")[1].startswith("promoted"):
        newer = [v for v in lineage if v != "v1.0.0"]
        assert newer
        assert lineage[newer[-1]]["data"]["production"]  # trained on production rows
        assert timeline[-1]["prod_version"] == newer[-1]
    html = (out / "lifecycle.html").read_text()
    assert "<svg" in html  # the drift-share chart, drawn in the page
    assert "Lineage" in html
    assert "retrain" in result.stdout
