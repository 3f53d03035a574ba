"""The workflows' structure: triggers, permissions, environments, pinned actions, and every
``run:`` step mapping to the ``mlops`` command line, a nox session, a setup install or CML."""

from __future__ import annotations

import ast
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from mlops.cli import app
from mlops.gitops.rehearsal import EXPRESSION
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
    """Each function under ``@nox.session``: its ``name=``, else the function's name."""
    sessions = set()
    for node in ast.parse((ROOT / "noxfile.py").read_text()).body:
        for decorator in getattr(node, "decorator_list", []):
            call = decorator if isinstance(decorator, ast.Call) else None
            if ast.unparse(call.func if call else decorator) == "nox.session":
                names = [k.value.value for k in (call.keywords if call else []) if k.arg == "name"]
                sessions.add(names[0] if names else node.name)
    return sessions


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


# The lock files, each the base dependencies plus the extras noxfile.py lists for it.
LOCK_INSTALL = re.compile(r"--require-hashes (?:--[\w-]+ )*-r (requirements/[\w.-]+\.lock)\b")
PIN = re.compile(r"^([A-Za-z0-9][\w.-]*)(?:\[[^\]]*\])?==(\S+?)(?: \\)?$", re.MULTILINE)


ALL_LOCK = "requirements/all.lock"  # every extra: each other lock takes its versions from it


def nox_locks() -> dict[str, tuple[str, ...]]:
    """``LOCKS`` in noxfile.py: lock file -> the extras it installs (read, not imported)."""
    constants: dict[str, str] = {}
    for node in ast.parse((ROOT / "noxfile.py").read_text()).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)):
            continue
        target = node.targets[0].id
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            constants[target] = node.value.value
        elif target == "LOCKS" and isinstance(node.value, ast.Dict):
            return {
                constants[key.id] if isinstance(key, ast.Name) else ast.literal_eval(key): (
                    ast.literal_eval(value)
                )
                for key, value in zip(node.value.keys, node.value.values, strict=True)
                if key is not None
            }
    raise AssertionError("noxfile.py has no LOCKS")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(lock: str | Path) -> dict[str, str]:
    """A lock file's pins: normalized distribution name -> version."""
    return {normalize(name): version for name, version in PIN.findall((ROOT / lock).read_text())}


def job_locks() -> dict[tuple[str, str], str]:
    """(workflow, job) -> the lock its steps install."""
    found = {}
    for name in workflows():
        for job_name, job in load(name)["jobs"].items():
            for step in job["steps"]:
                if match := LOCK_INSTALL.search(step.get("run", "")):
                    found[name, job_name] = match[1]
    return found


def image_lock() -> str:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    (lock,) = {match[1] for match in LOCK_INSTALL.finditer(dockerfile)}
    return lock


@pytest.mark.parametrize("name", workflows())
def test_the_product_installs_from_the_lock(name: str) -> None:
    """Every install of the product's dependencies is a hash-checked lock that `nox -s lock`
    writes; the package itself adds nothing to it (``--no-deps``). Only CI's own tool, nox,
    installs otherwise."""
    locks = nox_locks()
    for step in steps(load(name)):
        run = step.get("run", "").strip()
        if run.startswith("python -m pip install") and run != "python -m pip install 'nox[uv]'":
            match = LOCK_INSTALL.search(run)
            assert match or "--no-deps -e ." in run, f"{name}: {run!r} bypasses the lock"
            assert match is None or match[1] in locks, f"{name}: {run!r}: not a lock nox writes"


def test_every_job_that_runs_mlops_installs_a_lock_first() -> None:
    installed = job_locks()
    for name in workflows():
        for job_name, job in load(name)["jobs"].items():
            runs = [step.get("run", "") for step in job["steps"]]
            if any(run.startswith("mlops ") for run in runs):
                assert (name, job_name) in installed, f"{name}/{job_name}: no lock installed"
                first = next(i for i, run in enumerate(runs) if run.startswith("mlops "))
                assert any("--no-deps -e ." in run for run in runs[:first]), f"{name}/{job_name}"


def test_the_image_installs_from_the_lock() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert image_lock() == "requirements/serve.lock"
    assert image_lock() in nox_locks()
    assert f"COPY {image_lock()} ./requirements/" in dockerfile
    assert all("--require-hashes" in line or "--no-deps" in line for line in installs)


@pytest.mark.parametrize("lock", sorted(nox_locks()))
def test_every_lock_nox_writes_exists_pins_with_hashes_and_agrees_with_the_others(
    lock: str,
) -> None:
    text = (ROOT / lock).read_text()
    pins = locked(lock)
    assert len(pins) > 10, f"{lock}: no pins"
    # Every pin carries its hashes (pip refuses a pin without, under --require-hashes).
    entries = [entry for entry in re.split(r"\n(?=\S)", text) if PIN.match(entry)]
    assert len(entries) == len(pins)
    assert all("--hash=sha256:" in entry for entry in entries), lock
    # One resolution: a package has the version of the `all` lock in every lock, and only the
    # test lock adds packages to it (the test tools).
    everything = locked(ALL_LOCK)
    assert {
        name: (version, everything[name])
        for name, version in pins.items()
        if name in everything and everything[name] != version
    } == {}
    assert lock == "requirements/test.lock" or set(pins) <= set(everything), lock


def test_nothing_but_the_locks_nox_writes_in_requirements() -> None:
    written = set(nox_locks())
    assert {str(path.relative_to(ROOT)) for path in (ROOT / "requirements").iterdir()} == written


def test_the_image_has_no_pipeline_registry_or_cluster_packages() -> None:
    image = set(locked(image_lock()))
    assert not {"dvc", "gto", "dask", "distributed", "matplotlib"} & image
    assert {"fastapi", "uvicorn", "prometheus-client", "s3fs"} <= image


def example_data() -> set[str]:
    """The distributions of the `example-data` extra: whatever data source a fork ships."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    return {
        normalize(re.match(r"[\w.-]+", requirement)[0]) for requirement in extras["example-data"]
    }


def test_release_jobs_install_neither_the_service_nor_dask() -> None:
    release = {job: lock for (name, job), lock in job_locks().items() if name == "release.yml"}
    assert set(release) == {"register", "image", "staging", "production"}
    for job, lock in release.items():
        pins = set(locked(lock))
        assert not {"fastapi", "uvicorn", "starlette", "dask", "distributed"} & pins, job
        assert not {"matplotlib", *example_data()} & pins, job
        assert {"gto", "dvc", "prometheus-client", "ruamel-yaml"} <= pins, job


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
    assert owners["/src/project/model.py"].endswith("data-scientists")
    assert owners["/deploy/"].endswith("ml-engineers")
    assert owners["/.github/"].endswith("ml-engineers")
    assert (ROOT / ".github/pull_request_template.md").exists()


def test_the_docs_name_every_secret_and_variable_the_workflows_use() -> None:
    guide = (ROOT / "docs/github-setup.md").read_text()
    used = set()
    for name in workflows():
        used |= set(re.findall(r"(?:secrets|vars)\.(\w+)", (WORKFLOWS / name).read_text()))
    assert {name for name in used - {"GITHUB_TOKEN"} if name not in guide} == set()
