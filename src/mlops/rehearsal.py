"""Run a workflow job's steps here, as GitHub Actions would, to rehearse it without GitHub.

Only what the workflows in this repository use is understood: ``run:`` steps, step and job
``env:``, ``if:`` conditions made of ``==``, ``!=``, ``&&``, ``!cancelled()`` and ``always()``,
``${{ }}`` expressions that name a value (with ``||`` for a default), ``continue-on-error``,
step outputs through ``$GITHUB_OUTPUT``, the job summary through ``$GITHUB_STEP_SUMMARY``, and
job outputs. Anything else fails loudly.

Steps that reach GitHub or a registry (``uses:`` actions, package installs, ``cml``) are the
edges: they are not run but recorded, with the files they would read checked to exist, so a
rehearsal shows exactly what a workflow would send out.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops import dvc, git
from mlops.errors import MlopsError
from mlops.local_github import REPOSITORY, TOKEN, LocalGitHub, local_github

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SETUP_COMMANDS = ("python -m pip install", "npm install --global")
EDGE_COMMANDS = ("cml ",)
# What an edge action answers, for the steps after it: no image is built in a rehearsal, so the
# image's digest is a stand-in that the overlays are pinned to.
EDGE_OUTPUTS = {"docker/build-push-action": {"digest": "sha256:" + "0" * 64}}


class RehearsalError(MlopsError):
    """A step failed, or the workflow uses something a rehearsal does not understand."""


@dataclass
class StepResult:
    name: str
    kind: str  # run | edge | skipped
    command: str = ""
    returncode: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    output: str = ""
    summary: str = ""


@dataclass
class JobResult:
    job: str
    steps: list[StepResult]
    outputs: dict[str, str]
    succeeded: bool
    ran: bool = True

    def step(self, name: str) -> StepResult:
        return next(step for step in self.steps if step.name == name)

    @property
    def edges(self) -> list[str]:
        return [step.command for step in self.steps if step.kind == "edge"]


def _lookup(context: dict[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return value


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    """A value, a string literal, ``a || b``, ``a == b``, ``a != b``, ``a && b``."""
    expression = expression.strip()
    if "&&" in expression:
        return all(evaluate(part, context) for part in expression.split("&&"))
    if "||" in expression:
        return next((v for v in (evaluate(p, context) for p in expression.split("||")) if v), "")
    for operator in ("==", "!="):
        if operator in expression:
            left, right = (evaluate(side, context) for side in expression.split(operator, 1))
            return (str(left) == str(right)) == (operator == "==")
    if expression in ("!cancelled()", "always()", "success()"):
        return True
    if re.fullmatch(r"'[^']*'", expression):
        return expression[1:-1]
    if re.fullmatch(r"[A-Za-z_][\w.-]*", expression):
        return _lookup(context, expression)
    raise RehearsalError(f"a rehearsal does not understand the expression {expression!r}")


def substitute(text: str, context: dict[str, Any]) -> str:
    return EXPRESSION.sub(lambda match: str(evaluate(match.group(1), context)), text)


def _condition(step: dict[str, Any], context: dict[str, Any], failed: bool) -> bool:
    condition = str(step.get("if", ""))
    if not condition:
        return not failed
    inner = EXPRESSION.fullmatch(condition.strip())
    expression = inner.group(1) if inner else condition
    runs_after_failure = any(word in expression for word in ("!cancelled()", "always()"))
    return (runs_after_failure or not failed) and bool(evaluate(expression, context))


def _outputs(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines if "=" in line)


def run_job(
    workflow: Path,
    job: str,
    cwd: Path,
    context: dict[str, Any],
    extra_env: dict[str, str] | None = None,
) -> JobResult:
    """Run ``job`` of ``workflow`` in ``cwd``; ``context`` holds github, secrets, vars, needs."""
    document = yaml.safe_load(workflow.read_text())
    spec = document["jobs"][job]
    context = {**context, "steps": {}}
    if not _condition(spec, context, failed=False):
        return JobResult(job, [], {}, succeeded=True, ran=False)
    # The mlops beside this interpreter, whatever the caller's PATH says.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    base_env = {**os.environ, "PATH": path, **(extra_env or {})}
    declared = {**document.get("env", {}), **spec.get("env", {})}  # the workflow's, then the job's
    job_env = {key: substitute(str(value), context) for key, value in declared.items()}
    context["env"] = job_env
    results: list[StepResult] = []
    failed = False
    for number, step in enumerate(spec["steps"]):
        name = step.get("id") or step.get("name") or f"step {number}"
        if not _condition(step, context, failed):
            results.append(StepResult(name, "skipped"))
            continue
        if "uses" in step:
            outputs = EDGE_OUTPUTS.get(step["uses"].split("@")[0], {})
            results.append(StepResult(name, "edge", step["uses"], outputs=outputs))
            context["steps"][name] = {"outputs": outputs, "outcome": "success"}
            continue
        env = {**job_env}
        env |= {key: substitute(str(value), context) for key, value in step.get("env", {}).items()}
        command = substitute(step["run"], context)
        result = _run(name, command, cwd, {**base_env, **env})
        results.append(result)
        context["steps"][name] = {
            "outputs": result.outputs,
            "outcome": "success" if result.returncode == 0 else "failure",
        }
        if result.returncode and not step.get("continue-on-error"):
            failed = True
    outputs = {
        key: substitute(str(value), context) for key, value in spec.get("outputs", {}).items()
    }
    return JobResult(job, results, outputs, not failed)


def _run(name: str, command: str, cwd: Path, env: dict[str, str]) -> StepResult:
    if command.startswith(SETUP_COMMANDS):
        return StepResult(name, "skipped", command)
    if command.startswith(EDGE_COMMANDS):
        words = [
            re.sub(r"\$(\w+)", lambda match: env.get(match.group(1), ""), word)
            for word in shlex.split(command)
        ]
        files = [w for w in words if not w.startswith("-") and " " not in w and "/" in w]
        missing = [file for file in files if not (cwd / file).exists()]
        if missing:
            raise RehearsalError(f"{name}: cml would read files that do not exist: {missing}")
        return StepResult(name, "edge", " ".join(words))
    with tempfile.TemporaryDirectory() as scratch:
        output_file, summary_file = Path(scratch) / "output", Path(scratch) / "summary"
        files = {"GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(summary_file)}
        finished = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", command],
            cwd=cwd,
            env={**env, **files},
            capture_output=True,
            text=True,
            check=False,
        )
        outputs = _outputs(output_file)
        summary = summary_file.read_text() if summary_file.exists() else ""
    return StepResult(
        name,
        "run",
        command,
        finished.returncode,
        outputs,
        finished.stdout + finished.stderr,
        summary,
    )


@dataclass
class Project:
    """A clone with a bare local origin, a local DVC remote and a local GitHub stand-in, where
    workflow jobs run as they would on GitHub."""

    repo: Path
    origin: Path
    forge: LocalGitHub
    actor: str = "rehearsal"

    def git(self, *args: str) -> str:
        return git.run(*args, cwd=self.repo)

    def mlops(self, *args: str) -> str:
        """An ``mlops`` command in the clone, as a person (or the README) would type it."""
        finished = subprocess.run(
            [str(Path(sys.executable).parent / "mlops"), *args],
            cwd=self.repo,
            capture_output=True,
            text=True,
            check=False,
        )
        if finished.returncode:
            raise RehearsalError(f"mlops {' '.join(args)}: {finished.stderr or finished.stdout}")
        return finished.stdout

    def job(self, workflow: str, job: str, event: str, **context: Any) -> JobResult:
        """Run one job of ``.github/workflows/WORKFLOW.yml`` for ``event``."""
        github = {
            "event_name": event,
            "repository": REPOSITORY,
            "server_url": "https://github.invalid",
            "run_id": "1",
            "sha": self.git("rev-parse", "HEAD").strip(),
            "ref_name": self.git("branch", "--show-current").strip(),
            "actor": self.actor,
            "event": {"repository": {"default_branch": "main"}},
            **context.pop("github", {}),
        }
        return run_job(
            self.repo / ".github" / "workflows" / f"{workflow}.yml",
            job,
            self.repo,
            {"github": github, "secrets": {"GITHUB_TOKEN": TOKEN}, "vars": {}, **context},
            self.forge.env(),
        )

    def publish(self) -> None:
        """Push the branch and its data and models (git to origin, DVC to the remote)."""
        self.git("push", "--quiet", "origin", "HEAD")
        dvc.run("push", "--quiet", cwd=self.repo)


@contextmanager
def project(clone: Path, dvc_remote: Path) -> Iterator[Project]:
    """Give ``clone`` a bare origin beside it, ``dvc_remote`` as its DVC remote, and a forge."""
    origin = clone.parent / f"{clone.name}-origin.git"
    git.run("init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git.run("remote", "set-url", "origin", str(origin), cwd=clone)
    remote = dvc.run("remote", "default", cwd=clone).stdout.strip()
    dvc.run("remote", "modify", "--local", remote, "url", str(dvc_remote), cwd=clone)
    with local_github() as forge:
        rehearsed = Project(clone, origin, forge)
        rehearsed.git("push", "--quiet", "origin", "HEAD:main")
        yield rehearsed
