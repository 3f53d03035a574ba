"""The one adapter to DVC: its command line, run as a subprocess of this interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlops import yamlio
from mlops.errors import MlopsError


class DvcError(MlopsError):
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


def stream(*args: str) -> None:
    """Run ``dvc ARGS`` with its output on this terminal (long work shows DVC's progress)."""
    if subprocess.run([sys.executable, "-m", "dvc", *args], check=False).returncode != 0:
        raise DvcError(f"dvc {' '.join(args)} failed (its output is above)")


def tracked_output(dvc_file: Path) -> dict:
    """The single output recorded in a ``.dvc`` file (``md5``, ``path``, ``meta``, ...)."""
    outs = yamlio.load(dvc_file.read_text()).get("outs", [])
    if len(outs) != 1:
        raise DvcError(f"{dvc_file} must track exactly one output, found {len(outs)}")
    return outs[0]


def locked_md5(lock_text: str, path: str) -> str | None:
    """The hash ``dvc.lock`` records for the stage output at ``path``."""
    # dvc.lock runs to thousands of lines and the registry's audit reads one per version.
    stages = (yamlio.load(lock_text) or {}).get("stages", {})
    for stage in stages.values():
        for out in stage.get("outs", []):
            if out["path"] == path:
                return out["md5"]
    return None


def artifacts(dvc_yaml: Path = Path("dvc.yaml")) -> dict[str, dict]:
    """The ``artifacts:`` section of ``dvc.yaml``: name -> path, type, description."""
    return yamlio.load(dvc_yaml.read_text()).get("artifacts", {})
