"""``mlops retrain-from-production``: labelled collected rows become a validated data version on
a branch, the pipeline trains on them, and lineage names the log they came from."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlops.columns import LABEL
from mlops.config import Params
from mlops.gitops.replay import featurized_months
from tests.conftest import FLIGHTS, SMALL_SAMPLE_PARAMS, clone_project, run, set_params
from tests.monitoring import write_feedback, write_log

pytestmark = pytest.mark.slow


def _collect_july(folder: Path, params: Params, log: Path, labelled_every: int) -> pd.DataFrame:
    """July's flights scored in production; every n-th of them got its true label back."""
    july = featurized_months(
        folder, params, ["2013-07"], every=20, schema_file=FLIGHTS / "schema.yaml"
    ).reset_index(drop=True)
    features = {"categorical": params.features.categorical, "numeric": params.features.numeric}
    write_log(log, july, features, params.data.time_column, model_version="abc123")
    write_feedback(log, july[LABEL], every=labelled_every)
    return july


def test_labelled_production_rows_become_a_data_version_the_pipeline_trains_on(
    tmp_path: Path, params: Params
) -> None:
    repo = clone_project(tmp_path / "project")
    run("mlops", "data", "create", "--every", "25", cwd=repo)
    set_params(repo, SMALL_SAMPLE_PARAMS)
    run("git", "commit", "--quiet", "-am", "sample data", cwd=repo)
    log = tmp_path / "log"
    july = _collect_july(tmp_path / "july", params, log, labelled_every=2)

    result = run(
        "mlops",
        "retrain-from-production",
        str(log),
        "--since",
        "2013-07-01",
        "--until",
        "2013-07-31",
        cwd=repo,
    )
    summary = json.loads(result.stdout)
    in_period = july[july["time_hour"] < pd.Timestamp("2013-07-31", tz="UTC")]
    assert summary["rows"] == len(in_period.iloc[::2]) > 0
    assert summary["branch"] == "retrain/production-20130701-20130731"
    assert run("git", "branch", "--show-current", cwd=repo).stdout.strip() == summary["branch"]
    assert run("git", "status", "--porcelain", "--untracked-files=no", cwd=repo).stdout == ""
    meta = yaml.safe_load((repo / "data.dvc").read_text())["outs"][0]["meta"]
    [batch] = meta["production"]
    assert batch["log"] == str(log)
    assert batch["model_versions"] == {"abc123": summary["rows"]}
    assert batch["label_source"].startswith("feedback")

    # The pipeline validates them with the rest and learns from them: July is the holdout now.
    run("dvc", "repro", "--quiet", cwd=repo)
    split = json.loads((repo / "reports/split.json").read_text())
    assert split["holdout"]["end"].startswith("2013-07")
    run("mlops", "gate", cwd=repo)
    run("git", "add", "--all", cwd=repo)
    run("git", "commit", "--quiet", "-m", "model on production data", cwd=repo)
    run("mlops", "registry", "register", "--version", "v1.0.0", "--reason", "July", cwd=repo)
    facts = json.loads(run("mlops", "lineage", "v1.0.0", "--json", cwd=repo).stdout)
    assert facts["data"]["production"] == [batch]
    assert "from" in run("mlops", "lineage", "v1.0.0", cwd=repo).stdout


def test_rows_breaking_the_contract_never_become_data(tmp_path: Path, params: Params) -> None:
    repo = clone_project(tmp_path / "project")
    log = tmp_path / "log"
    july = featurized_months(
        tmp_path / "july", params, ["2013-07"], every=50, schema_file=FLIGHTS / "schema.yaml"
    )
    july.loc[july.index[:3], "distance"] = -5.0  # the contract says at least 1 mile
    features = {"categorical": params.features.categorical, "numeric": params.features.numeric}
    write_log(log, july, features, params.data.time_column)
    write_feedback(log, [1] * 5)
    before = (repo / "data.dvc").read_text()

    refused = run(
        "mlops",
        "retrain-from-production",
        str(log),
        "--since",
        "2013-07-01",
        "--until",
        "2013-08-01",
        cwd=repo,
        check=False,
    )
    assert refused.returncode == 1
    assert "distance" in refused.stderr
    assert "in_range" in refused.stderr
    assert (repo / "data.dvc").read_text() == before
    assert run("git", "branch", "--show-current", cwd=repo).stdout.strip() == "main"
