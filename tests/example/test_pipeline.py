"""The whole DVC pipeline in a fresh clone, on a small sample of the default data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import SAMPLE_EVERY, clone_project, run

pytestmark = pytest.mark.slow
STAGES = ("validate", "featurize", "train", "evaluate", "profile")


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clone = clone_project(tmp_path_factory.mktemp("pipeline") / "clone")
    run("mlops", "data", "create", "--every", str(SAMPLE_EVERY), cwd=clone)
    run("dvc", "repro", cwd=clone)
    return clone


def _model_hash(clone: Path) -> str:
    lock = yaml.safe_load((clone / "dvc.lock").read_text())
    return next(out["md5"] for out in lock["stages"]["train"]["outs"] if out["path"] == "model")


def test_every_stage_writes_its_outputs(reproduced: Path) -> None:
    metrics = json.loads((reproduced / "reports/metrics.json").read_text())
    assert {"roc_auc", "pr_auc", "f1", "log_loss", "brier", "threshold"} <= set(metrics)
    assert 0.5 < metrics["roc_auc"] <= 1
    slices = json.loads((reproduced / "reports/slices.json").read_text())
    assert set(slices) == {"carrier", "origin"}
    assert slices["origin"]
    profile = json.loads((reproduced / "reports/profile.json").read_text())
    assert profile["model_size_bytes"] > 0
    assert profile["single_row"]["p99_ms"] > 0
    for plot in (
        "roc.json",
        "precision_recall.json",
        "calibration.json",
        "confusion.csv",
        "evaluation.png",
        "importance.png",
    ):
        assert (reproduced / "reports/plots" / plot).stat().st_size > 0
    reference = json.loads((reproduced / "model/reference.json").read_text())
    assert reference["features"]["origin"]["kind"] == "categorical"
    assert reference["features"]["distance"]["exact"]
    shown = run("dvc", "plots", "show", "--json", cwd=reproduced).stdout
    assert "ROC" in shown


def test_second_repro_is_a_no_op_and_status_is_clean(reproduced: Path) -> None:
    output = run("dvc", "repro", cwd=reproduced).stdout
    assert "Running stage" not in output
    for stage in STAGES:
        assert f"Stage '{stage}' didn't change, skipping" in output
    assert "up to date" in run("dvc", "status", cwd=reproduced).stdout


def test_retraining_with_same_data_and_params_is_identical(reproduced: Path) -> None:
    metrics = (reproduced / "reports/metrics.json").read_text()
    model = _model_hash(reproduced)
    # validate, featurize, train and evaluate again: the serving stages add nothing compared here.
    run("dvc", "repro", "--force", "evaluate", cwd=reproduced)
    assert (reproduced / "reports/metrics.json").read_text() == metrics
    assert _model_hash(reproduced) == model


def test_bad_data_stops_the_pipeline_and_leaves_the_model(reproduced: Path) -> None:
    model_bytes = (reproduced / "model/model.skops").read_bytes()
    metrics = (reproduced / "reports/metrics.json").read_text()
    broken = reproduced / "data/flights/2013-04.csv"
    lines = broken.read_text().splitlines(keepends=True)
    broken.write_text(
        lines[0]
        + lines[1].replace(",JFK,", ",XXX,").replace(",LGA,", ",XXX,").replace(",EWR,", ",XXX,")
        + "".join(lines[2:])
    )

    result = run("dvc", "repro", cwd=reproduced, check=False)
    assert result.returncode != 0
    assert "column 'origin' failed isin" in result.stdout + result.stderr
    assert "data/flights/2013-04.csv" in result.stdout + result.stderr
    assert (reproduced / "model/model.skops").read_bytes() == model_bytes
    assert (reproduced / "reports/metrics.json").read_text() == metrics
