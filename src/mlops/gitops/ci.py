"""What a step hands to GitHub Actions: outputs (``key=value`` lines appended to
``$GITHUB_OUTPUT``) and markdown for the run's page (``$GITHUB_STEP_SUMMARY``).

Outside a workflow the variables are unset and nothing is written; the command's own output
(JSON or text) says the same for people.
"""

from __future__ import annotations

import os
from pathlib import Path


def set_outputs(**values: str | int | bool) -> None:
    """Expose values to later steps as ``steps.ID.outputs.KEY``."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as handle:
        for key, value in values.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            if "\n" in text:
                raise ValueError(f"step output {key} must be one line")
            handle.write(f"{key}={text}\n")


def add_summary(markdown: str) -> None:
    """Show ``markdown`` on the workflow run's summary page."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n")
