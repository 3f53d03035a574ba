"""Shared fixtures: real data from the configured source, real git and DVC in temporary repos."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from threadpoolctl import threadpool_limits

from mlops.config import Params, load_params
from project.sources import load_source

ROOT = Path(__file__).resolve().parents[1]
# The fixture project the platform tests run on: never the repository's own config, data or tags,
# which a fork edits for its own data set (tests/projects/README.md).
FLIGHTS = ROOT / "tests/example/flights"
SAMPLE_EVERY = 25  # every 25th row of the main table: ~6,600 rows over six months
# Fewer, slower boosting rounds for samples that small: the default ones overfit them.
SMALL_SAMPLE_PARAMS = {
    "train.hist_gradient_boosting.max_iter": 60,
    "train.hist_gradient_boosting.learning_rate": 0.05,
}


def pytest_configure(config: pytest.Config) -> None:
    """The environment of the suite and of every process it starts.

    DVC reports each command to its maintainers from a detached ``dvc daemon analytics``
    process unless told not to: 0.6 s of CPU after each of the suite's 200-odd DVC commands,
    out of sight of the processes that wait for theirs. The tests send nothing anywhere.
    """
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    _share_the_cores()


def _share_the_cores() -> None:
    """Each xdist worker's share of the cores for native threads, in the worker and in every
    process it starts (as scikit-learn's own conftest does for its workers).

    Two workers on two cores already keep both busy; a stage that also asks OpenMP for a thread
    per core finds them taken, and OpenMP's waiting threads spin: `mlops profile` and
    `mlops serving-check` took twice the CPU for the same work.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers is None:
        return
    threads = max((os.cpu_count() or 1) // int(workers), 1)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))
    threadpool_limits(threads)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files of slow tests first, each file's tests in their own order.

    `nox -s tests` hands whole files to a worker per core, in this order: the end-to-end files
    take minutes each, so one started last keeps its worker busy while the other idles; started
    first, the quick files fill in beside them and both workers finish together.
    """
    slow_tests: dict[Path, list[bool]] = {}
    for item in items:
        slow_tests.setdefault(item.path, []).append(item.get_closest_marker("slow") is not None)

    def slowest_first(item: pytest.Item) -> int:
        marked = slow_tests[item.path]
        return 0 if all(marked) else 1 if any(marked) else 2

    items.sort(key=slowest_first)  # stable: files and tests keep their order within a rank


# More threads than this left running after a test fail it (module fixtures' servers and
# clusters are made before the count and stopped after it).
MAX_THREADS_LEFT = 20


@pytest.fixture(autouse=True)
def _threads_left_behind() -> Iterator[None]:
    """A test stops the threads it starts. Threads left running share the GIL with every later
    test of their worker: 2,200 idle collector threads, each waking every second, once made
    that worker's tests take several times their CPU and looked like another job's load."""
    before = threading.active_count()
    yield
    left = threading.active_count() - before
    if left > MAX_THREADS_LEFT:
        pytest.fail(f"the test left {left} threads running (at most {MAX_THREADS_LEFT})")


@pytest.fixture(scope="session", autouse=True)
def _git_identity() -> None:
    for key, value in {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }.items():
        os.environ.setdefault(key, value)


def run(*command: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output when it fails and ``check`` is set."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


# `mlops ARGUMENTS...` in this Python, printing which of the watched packages it loaded.
_WATCHING_IMPORTS = """
import atexit, sys
from mlops.cli import app
watched = set(sys.argv[1].split(","))
atexit.register(lambda: print(sorted(watched & {name.split(".")[0] for name in sys.modules})))
sys.argv = ["mlops", *sys.argv[2:]]
app()
"""


def run_watching_imports(
    packages: set[str], *arguments: str, cwd: Path
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """``mlops ARGUMENTS...`` and which of ``packages`` it imported: a command that needs
    none of them must not pay for loading them."""
    watched = ",".join(sorted(packages))
    command = [sys.executable, "-c", _WATCHING_IMPORTS, watched, *arguments]
    result = run(*command, cwd=cwd, check=False)
    return result, ast.literal_eval(result.stdout.strip().splitlines()[-1])


def set_params(repo: Path, changes: dict[str, Any]) -> None:
    """Change ``params.yaml`` as a pull request would, e.g. ``{"train.seed": 1}``."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = params
        for key in parents:
            node = node[key]
        node[leaf] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(FLIGHTS / "params.yaml")


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory, params: Params) -> Path:
    """A thinned copy of the initial months, written by the configured source."""
    folder = tmp_path_factory.mktemp("sample") / "data"
    source = load_source(params.data.source)
    for month in params.data.initial_months:
        source.write_month(month, folder, every=SAMPLE_EVERY)
    return folder


@pytest.fixture
def workspace(tmp_path: Path, sample_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the fixture project's config and the sample data, as the working directory."""
    for name in ("params.yaml", "schema.yaml"):
        shutil.copy(FLIGHTS / name, tmp_path / name)
    shutil.copytree(sample_data, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def clone_project(target: Path, project: Path | None = FLIGHTS) -> Path:
    """A fresh clone of the platform configured as ``project``, the working tree's changes on top.

    In CI the working tree is the commit, so this is exactly a fresh clone; on a developer's
    machine it tests the code as it is now. Registry tags and the committed gate record are
    removed, so nothing a fork registered or decided leaks in, and ``project``'s params.yaml and
    schema.yaml replace the repository's. The repository's data.dvc stays tracked but unread:
    tests record the project's data version with ``mlops data create`` before they use data.
    The DVC remote points into the test's folder. ``project=None`` keeps the repository's own
    config, data version and DVC remote: the project tests (test_project.py).
    """
    run("git", "clone", "--quiet", str(ROOT), str(target), cwd=ROOT)
    listed = run("git", "ls-files", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    wanted = {name for name in listed.stdout.splitlines() if (ROOT / name).is_file()}
    for name in set(run("git", "ls-files", cwd=target).stdout.splitlines()) - wanted:
        (target / name).unlink()
    for name in wanted:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)
    tags = run("git", "tag", "--list", cwd=target).stdout.split()
    if tags:
        run("git", "tag", "--delete", *tags, cwd=target)
    for name in ("reports/gate.json", "reports/gate.md"):
        (target / name).unlink(missing_ok=True)
    if project is None:  # the team's remote, read here: a relative folder is relative to ROOT
        remote = run("dvc", "remote", "default", cwd=ROOT, check=False).stdout.strip()
        url = run("dvc", "config", f"remote.{remote}.url", cwd=ROOT, check=False).stdout.strip()
    else:
        for name in ("params.yaml", "schema.yaml"):
            shutil.copy(project / name, target / name)
        remote, url = "local", str(target.parent / "remote")  # whatever a fork named its own
    if url:
        run("dvc", "remote", "add", "--local", "--default", "--force", remote, url, cwd=target)
    run("git", "add", "--all", cwd=target)
    run("git", "commit", "--quiet", "--allow-empty", "-m", "working tree", cwd=target)
    return target


@pytest.fixture(scope="session")
def trained_project(
    tmp_path_factory: pytest.TempPathFactory, sample_data: Path, params: Params
) -> Path:
    """A project folder with the sample data, its holdout and a trained model (for serving)."""
    from tests.serving import train_project

    return train_project(tmp_path_factory.mktemp("trained") / "project", sample_data, params)
