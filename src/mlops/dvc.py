"""The one adapter to DVC: its command line, run as a subprocess of this interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml


class DvcError(RuntimeError):
    """A DVC command failed; the message carries what DVC printed."""


def run(
    *args: str, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``dvc ARGS`` with the DVC that is installed beside this package."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise DvcError(f"dvc {' '.join(args)} failed:\n{result.stderr.strip() or result.stdout}")
    return result


def tracked_output(dvc_file: Path) -> dict:
    """The single output recorded in a ``.dvc`` file (``md5``, ``path``, ``meta``, ...)."""
    outs = yaml.safe_load(dvc_file.read_text()).get("outs", [])
    if len(outs) != 1:
        raise DvcError(f"{dvc_file} must track exactly one output, found {len(outs)}")
    return outs[0]
