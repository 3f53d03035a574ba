"""Commands people run by hand load only what they use: the registry's answer without pandas or
scikit-learn (half a second of imports each), and a split by time without scikit-learn."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import run, run_watching_imports

HEAVY = {"numpy", "pandas", "sklearn", "scipy", "skops", "matplotlib"}


def test_registry_commands_load_no_data_or_learning_library(tmp_path: Path) -> None:
    run("git", "init", "--quiet", cwd=tmp_path)
    run("git", "commit", "--quiet", "--allow-empty", "-m", "empty", cwd=tmp_path)
    (tmp_path / "dvc.yaml").write_text("artifacts:\n  model:\n    path: model\n    type: model\n")
    for command in (["registry", "show", "--json"], ["registry", "verify"], ["--help"]):
        result, loaded = run_watching_imports(HEAVY, *command, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert loaded == [], command


SPLIT_BY_TIME = """
import sys
import pandas as pd
from mlops.config import SplitParams
from mlops.data.split import split
frame = pd.DataFrame({"at": pd.date_range("2024-01-01", periods=30, freq="D"), "x": range(30)})
parts = split(frame, SplitParams(holdout_days=5, validation_days=5), "at", None)
print({name: len(part) for name, part in parts.items()}, "sklearn" in sys.modules)
"""


def test_a_split_by_time_loads_no_learning_library(tmp_path: Path) -> None:
    result = run(sys.executable, "-c", SPLIT_BY_TIME, cwd=tmp_path)
    assert result.stdout.strip() == "{'train': 20, 'validation': 5, 'holdout': 5} False"
