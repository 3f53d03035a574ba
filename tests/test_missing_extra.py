"""A job that did not install an optional dependency is told which extra to install; a module
missing for any other reason is a bug and keeps its traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops.extras import extra_of

# Runs `mlops ARGS` in a fresh interpreter where MODULE cannot be imported, as if not installed.
RUN_WITHOUT = """
import sys
sys.modules[sys.argv[1]] = None
from mlops.cli import app
app(sys.argv[2:], prog_name="mlops")
"""


def _mlops_without(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT, module, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("module", "extra"),
    [("fastapi", "serve"), ("treelite", "fast"), ("distributed", "dask"), ("numpy", None)],
)
def test_each_optional_module_is_traced_to_the_smallest_extra_that_installs_it(
    module: str, extra: str | None
) -> None:
    assert extra_of(module) == extra


def test_a_missing_extra_is_one_line_naming_what_to_install(tmp_path: Path) -> None:
    result = _mlops_without("fastapi", "serve", "--model", str(tmp_path))
    assert result.returncode == 1
    assert "'fastapi'" in result.stderr
    assert "pip install -e '.[serve]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_module_missing_for_another_reason_keeps_its_traceback(tmp_path: Path) -> None:
    result = _mlops_without("mlops.serving.service", "serve", "--model", str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ModuleNotFoundError" in result.stderr
