"""The workflows' structure: triggers, permissions, environments, pinned actions, and every
``run:`` step mapping to the ``mlops`` command line, a nox session, a setup install or CML."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import typer
import yaml

from mlops.cli import app
from mlops.rehearsal import EXPRESSION
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on` as true
    return document


def workflows() -> list[str]:
    return sorted(path.name for path in WORKFLOWS.glob("*.yml"))


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job["steps"]]


def _mlops_commands() -> set[tuple[str, ...]]:
    """Every ``mlops`` command path: ``("gate",)``, ``("registry", "promote")``, ..."""
    root = typer.main.get_command(app)
    paths: set[tuple[str, ...]] = set()

    def walk(command: Any, prefix: tuple[str, ...]) -> None:
        # Groups by what they hold: typer may build them on a click of its own.
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, (*prefix, name))
        else:
            paths.add(prefix)

    walk(root, ())
    assert () not in paths
    assert ("registry", "promote") in paths
    return paths


def _nox_sessions() -> set[str]:
    text = (ROOT / "noxfile.py").read_text()
    named = set(re.findall(r'@nox\.session\(name="([\w-]+)"\)', text))
    plain = set(re.findall(r"@nox\.session\n(?:@[^\n]+\n)*def (\w+)", text))
    return named | plain


def test_the_workflows_are_all_here() -> None:
    assert workflows() == [
        "ci.yml",
        "model-pr.yml",
        "monitor.yml",
        "release.yml",
        "retrain.yml",
    ]


def test_triggers_and_path_filters() -> None:
    assert set(load("ci.yml")["on"]) == {"pull_request", "push"}
    model_pr = load("model-pr.yml")["on"]
    assert set(model_pr) == {"pull_request"}
    assert {"data.dvc", "params.yaml", "dvc.lock", "schema.yaml", "src/**"} <= set(
        model_pr["pull_request"]["paths"]
    )
    retrain = load("retrain.yml")["on"]
    assert retrain["push"] == {"branches": ["main"], "paths": ["data.dvc"]}
    assert "workflow_dispatch" in retrain
    assert retrain["repository_dispatch"] == {"types": ["retrain"]}
    release = load("release.yml")["on"]
    assert release["push"] == {"branches": ["main"], "paths": ["dvc.lock"]}
    monitor = load("monitor.yml")["on"]
    assert monitor["schedule"][0]["cron"]
    assert "workflow_dispatch" in monitor


@pytest.mark.parametrize("name", workflows())
def test_least_privilege_concurrency_and_no_pull_request_target(name: str) -> None:
    document = load(name)
    # No privileged trigger: a fork's pull request runs only with its own read-only token.
    assert not {"pull_request_target", "workflow_run"} & set(document["on"])
    assert "concurrency" in document
    top = document.get("permissions")
    assert top in ({}, {"contents": "read"}), f"{name}: workflow-wide permissions must be minimal"
    for job_name, job in document["jobs"].items():
        granted = job.get("permissions", top)
        assert granted is not None, f"{name}/{job_name} must say its permissions"
        assert "write-all" not in str(granted)
        assert job.get("timeout-minutes"), f"{name}/{job_name} needs a timeout"


def test_production_waits_for_reviewers_and_records_the_approver() -> None:
    jobs = load("release.yml")["jobs"]
    assert jobs["staging"]["environment"] == "staging"
    assert jobs["production"]["environment"] == "production"
    assert jobs["production"]["needs"] == ["register", "image", "staging"]
    runs = [step.get("run", "") for step in jobs["production"]["steps"]]
    assert "mlops registry verify --github-approvals" in runs
    promote = next(run for run in runs if run.startswith("mlops registry promote"))
    assert '--approval-run "$RUN_ID"' in promote
    assert "--actor" not in promote
    assert "--stage prod" in promote


def test_only_the_default_branch_registers_and_releases() -> None:
    register = load("release.yml")["jobs"]["register"]
    assert register["if"] == "github.ref_name == github.event.repository.default_branch"
    command = next(step["run"] for step in register["steps"] if step.get("id") == "register")
    assert '--on-branch "origin/$DEFAULT_BRANCH"' in command


@pytest.mark.parametrize("job", ["staging", "production"])
def test_a_release_pins_the_digest_and_waits_for_what_runs_before_it_promotes(job: str) -> None:
    release = load("release.yml")["jobs"]
    assert release["image"]["outputs"]["digest"] == "${{ steps.build.outputs.digest }}"
    steps = release[job]["steps"]
    runs = [step.get("run", "") for step in steps]
    pin = next(index for index, run in enumerate(runs) if run.startswith("mlops deploy pin"))
    assert '--image-digest "$DIGEST"' in runs[pin]
    order = [step.get("id") for step in steps]
    promote = next(i for i, run in enumerate(runs) if run.startswith("mlops registry promote"))
    assert pin < order.index("rollout") < order.index("smoke") < promote
    assert runs[order.index("rollout")].startswith("mlops deploy wait")


def test_pull_requests_must_commit_what_ci_reproduces() -> None:
    runs = [step.get("run", "") for step in load("model-pr.yml")["jobs"]["report"]["steps"]]
    assert runs.index("mlops pipeline --force") < runs.index("mlops check-reproduced")
    assert runs.index("mlops gate") < runs.index("mlops check-reproduced")


@pytest.mark.parametrize("name", workflows())
def test_third_party_actions_are_pinned_by_full_sha_with_the_version_noted(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    for step in steps(load(name)):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{name}: {step['uses']} is not pinned by SHA"
            line = next(line for line in text.splitlines() if step["uses"] in line)
            assert re.search(r"# v\d", line), f"{name}: {step['uses']} lacks its version comment"


@pytest.mark.parametrize("name", workflows())
def test_every_run_step_is_the_cli_a_nox_session_a_setup_install_or_cml(name: str) -> None:
    commands, sessions = _mlops_commands(), _nox_sessions()
    for step in steps(load(name)):
        if "run" not in step:
            continue
        run = step["run"].strip()
        assert "\n" not in run, f"{name}: one command per step: {run!r}"
        # Event values and secrets reach the script only through env:, never as text.
        assert not EXPRESSION.search(run), f"{name}: expression inside a script: {run!r}"
        words = shlex.split(run)
        if words[0] == "mlops":
            path = tuple(w for w in words[1:4] if not w.startswith(("-", "$", "build/")))
            assert any(path[: len(c)] == c for c in commands), f"{name}: no `mlops {path}`"
        elif words[0] == "nox":
            assert set(words[words.index("-s") + 1 :]) <= sessions | {"--"}
        elif words[0] == "cml":
            assert words[1] in ("comment", "pr"), f"{name}: cml is only the last, thin step"
        else:
            assert run.startswith(("python -m pip install", "npm install --global @dvcorg/cml@"))


@pytest.mark.parametrize("name", workflows())
def test_the_product_installs_from_the_lock(name: str) -> None:
    """Every install of the product's dependencies is the hash-checked lock; the package itself
    adds nothing to it (``--no-deps``). Only CI's own tool, nox, installs otherwise."""
    for step in steps(load(name)):
        run = step.get("run", "").strip()
        if run.startswith("python -m pip install") and run != "python -m pip install nox":
            locked = "--require-hashes -r requirements/runtime.lock" in run
            assert locked or "--no-deps -e ." in run, f"{name}: {run!r} bypasses the lock"


def test_the_image_installs_from_the_lock() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert any("--require-hashes" in line and "runtime.lock" in line for line in installs)
    assert all("--require-hashes" in line or "--no-deps" in line for line in installs)


@pytest.mark.parametrize("name", workflows())
def test_secrets_only_reach_steps_through_env(name: str) -> None:
    for step in steps(load(name)):
        assert "secrets." not in str(step.get("run", ""))
        # A pinned action may get the run's own token; every other secret goes through env:.
        assert set(re.findall(r"secrets\.(\w+)", str(step.get("with", {})))) <= {"GITHUB_TOKEN"}


def test_fork_pull_requests_get_a_notice_instead_of_a_failure() -> None:
    jobs = load("model-pr.yml")["jobs"]
    assert "head.repo.full_name == github.repository" in jobs["report"]["if"]
    assert "head.repo.full_name != github.repository" in jobs["fork"]["if"]
    assert jobs["fork"]["permissions"] == {"contents": "read"}
    assert any(
        step.get("run", "").startswith("mlops report fork-notice")
        for step in steps({"jobs": {"fork": jobs["fork"]}})
    )


def test_training_jobs_can_move_to_a_bigger_runner() -> None:
    for name, job in [("model-pr.yml", "report"), ("retrain.yml", "retrain")]:
        assert (
            load(name)["jobs"][job]["runs-on"] == "${{ vars.TRAINING_RUNNER || 'ubuntu-latest' }}"
        )


def test_codeowners_route_each_role_to_its_files() -> None:
    owners = {}
    for line in (ROOT / ".github/CODEOWNERS").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            path, team = line.split()
            owners[path] = team
    assert owners["/schema.yaml"].endswith("data-engineers")
    assert owners["/data.dvc"].endswith("data-engineers")
    assert owners["/params.yaml"].endswith("data-scientists")
    assert owners["/src/mlops/model.py"].endswith("data-scientists")
    assert owners["/deploy/"].endswith("ml-engineers")
    assert owners["/.github/"].endswith("ml-engineers")
    assert (ROOT / ".github/pull_request_template.md").exists()


def test_the_docs_name_every_secret_and_variable_the_workflows_use() -> None:
    guide = (ROOT / "docs/github-setup.md").read_text()
    used = set()
    for name in workflows():
        used |= set(re.findall(r"(?:secrets|vars)\.(\w+)", (WORKFLOWS / name).read_text()))
    assert {name for name in used - {"GITHUB_TOKEN"} if name not in guide} == set()
