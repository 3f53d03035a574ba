"""The one adapter to git: read files at a revision, name commits, tell who is acting."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mlops.errors import MlopsError


class GitError(MlopsError):
    """A git command failed."""


def run(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def show(revision: str, path: str | Path) -> str | None:
    """The text of ``path`` at ``revision``, or ``None`` when it did not exist there."""
    result = subprocess.run(
        ["git", "show", f"{revision}:{Path(path).as_posix()}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout if result.returncode == 0 else None


def commit(revision: str = "HEAD") -> str:
    return run("rev-parse", f"{revision}^{{commit}}").strip()


def is_on(commit: str, branch: str) -> bool:
    """``commit`` is ``branch``'s tip or one of its ancestors."""
    result = subprocess.run(
        ["git", "merge-base", "--is-ancestor", commit, branch], capture_output=True, check=False
    )
    if result.returncode > 1:
        raise GitError(f"cannot tell whether {commit[:12]} is on {branch}: no such branch?")
    return result.returncode == 0


def is_dirty() -> bool:
    """Tracked files differ from HEAD: a record made now describes no commit exactly."""
    return bool(run("status", "--porcelain", "--untracked-files=no").strip())


def actor() -> str:
    """Who acts: ``MLOPS_ACTOR``, else the CI user (``GITHUB_ACTOR``), else git's user.name."""
    for variable in ("MLOPS_ACTOR", "GITHUB_ACTOR"):
        if os.environ.get(variable):
            return os.environ[variable]
    result = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def new_branch(name: str) -> None:
    """Create ``name`` at HEAD and switch to it."""
    run("switch", "--create", name)


def commit_paths(paths: list[str], message: str) -> str:
    """Commit exactly ``paths`` (whatever else is staged stays out); returns the commit."""
    run("add", "--", *paths)
    run("commit", "--quiet", "--message", message, "--", *paths)
    return commit()


def current_branch() -> str:
    return run("branch", "--show-current").strip()


def push(branch: str, remote: str = "origin") -> None:
    run("push", "--quiet", "--set-upstream", remote, branch)
