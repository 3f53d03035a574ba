"""Progress bars for long work: on stderr (stdout carries only results), on terminals only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import Progress
from rich.progress import track as _track

Item = TypeVar("Item")
STDERR = Console(stderr=True)


def track(items: Iterable[Item], description: str) -> Iterator[Item]:
    """Iterate with a progress bar that disappears when done."""
    yield from _track(
        items,
        description=description,
        console=STDERR,
        transient=True,
        disable=not STDERR.is_terminal,
    )


def bar() -> Progress:
    """A progress display for work that is not a plain loop."""
    return Progress(console=STDERR, transient=True, disable=not STDERR.is_terminal)
