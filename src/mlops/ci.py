"""Step outputs for GitHub Actions: ``key=value`` lines appended to ``$GITHUB_OUTPUT``.

Outside a workflow the variable is unset and nothing is written; the command's own output
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
