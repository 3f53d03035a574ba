"""Versioned data on a fresh clone: rebuilt to the recorded byte, pulled, or refused loudly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import clone_project, run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone whose committed data.dvc records the fixture project's data: as a fresh clone of
    it has them, with neither the data nor DVC's cache."""
    clone = clone_project(tmp_path_factory.mktemp("datastore") / "clone")
    run("mlops", "data", "create", cwd=clone)
    run("git", "add", "data.dvc", cwd=clone)
    # Empty when the repository records the same version, as the template does.
    run("git", "commit", "--quiet", "--allow-empty", "-m", "the fixture's data", cwd=clone)
    run("rm", "-rf", "data", ".dvc/cache", cwd=clone)
    return clone


@pytest.fixture
def clone(recorded: Path, tmp_path: Path) -> Path:
    """A copy of ``recorded`` with a DVC remote of its own."""
    copy = tmp_path / "clone"
    shutil.copytree(recorded, copy, symlinks=True)
    remote = run("dvc", "remote", "default", cwd=copy).stdout.strip()
    run("dvc", "remote", "modify", "--local", remote, "url", str(tmp_path / "remote"), cwd=copy)
    return copy


def test_fresh_clone_rebuilds_exactly_the_recorded_version_then_pulls_it(clone: Path) -> None:
    assert not (clone / "data").exists()
    months = yaml.safe_load((clone / "data.dvc").read_text())["outs"][0]["meta"]["months"]
    assert months == ["2013-01", "2013-02", "2013-03", "2013-04", "2013-05", "2013-06"]
    assert run("mlops", "data", "pull", cwd=clone).stdout.strip() == "data: rebuilt"
    assert "up to date" in run("dvc", "status", "data.dvc", cwd=clone).stdout
    assert run("git", "status", "--porcelain", cwd=clone).stdout == ""

    run("dvc", "push", "data.dvc", cwd=clone)
    run("rm", "-rf", "data", ".dvc/cache", cwd=clone)
    assert run("mlops", "data", "pull", cwd=clone).stdout.strip() == "data: pulled"
    assert run("mlops", "data", "pull", cwd=clone).stdout.strip() == "data: present"

    (clone / "data/flights/2013-09.csv").write_text("local work\n")
    refused = run("mlops", "data", "pull", cwd=clone, check=False)
    assert refused.returncode == 1
    assert "dvc add data" in refused.stderr
    assert (clone / "data/flights/2013-09.csv").read_text() == "local work\n"


def test_rebuilt_bytes_that_differ_fail_with_both_hashes(clone: Path) -> None:
    recorded = (clone / "data.dvc").read_text()
    document = yaml.safe_load(recorded)
    wrong = "0" * 32 + ".dir"
    document["outs"][0]["md5"] = wrong
    (clone / "data.dvc").write_text(yaml.safe_dump(document, sort_keys=False))
    tampered = (clone / "data.dvc").read_text()

    result = run("mlops", "data", "pull", cwd=clone, check=False)
    assert result.returncode == 1
    assert wrong in result.stderr
    assert yaml.safe_load(recorded)["outs"][0]["md5"] in result.stderr
    assert (clone / "data.dvc").read_text() == tampered


def test_add_month_records_a_new_version(clone: Path) -> None:
    run("mlops", "data", "pull", cwd=clone)
    before = yaml.safe_load((clone / "data.dvc").read_text())["outs"][0]
    run("mlops", "data", "add-month", "2013-07", cwd=clone)
    after = yaml.safe_load((clone / "data.dvc").read_text())["outs"][0]
    assert after["meta"]["months"] == [*before["meta"]["months"], "2013-07"]
    assert after["md5"] != before["md5"]
    assert (clone / "data" / "flights" / "2013-07.csv").exists()
    assert "up to date" in run("dvc", "status", "data.dvc", cwd=clone).stdout
    again = run("mlops", "data", "add-month", "2013-07", cwd=clone, check=False)
    assert again.returncode == 1
    assert "already" in again.stderr
