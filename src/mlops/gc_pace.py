"""How often Python's garbage collector runs, for the platform's two kinds of process.

A command (``mlops ...``) builds most of what it holds as it starts: its modules, a model,
frames, a few hundred thousand objects kept until it exits. At Python's pace (a young
collection every 700 new objects, a full one as the heap grows by a quarter) the collector
walks that growing heap again and again and finds almost nothing to free: 3-4% of the CPU of
``mlops monitor drift`` (benchmarks/drift.py). A command collects young objects every
100,000 instead; cycles are still freed, later. At its exit the interpreter walked everything
once more (about 18% of that command's CPU): a command freezes what it holds before it exits.

A service answers requests for as long as it runs. It moves what loading left into the
permanent generation, then goes back to Python's pace, whose short pauses keep the tail of its
latency short.
"""

from __future__ import annotations

import gc

PYTHON_PACE = gc.get_threshold()  # the interpreter's own, read before a command changes it
COMMAND_PACE = (100_000, 10, 10)


def for_command() -> None:
    """The pace of a process that runs one command and exits."""
    gc.set_threshold(*COMMAND_PACE)


def before_exit() -> None:
    """Spare the interpreter's last full collection, which walked every object the command
    built only to find them all still referenced (70-170 ms of a command that loads pandas):
    frozen objects are left to the exit. Modules are still torn down, objects freed by their
    counts (files closed and flushed), and exit handlers run; a reference cycle left as
    garbage is not collected, so nothing may rely on one to flush a file."""
    gc.freeze()


def for_service() -> None:
    """The pace of a long-running service, once it has loaded what it serves."""
    gc.collect()
    # What loading left (a model, its libraries: ~200,000 objects) is kept out of the full
    # passes, which walked it all amid requests: 110 ms each.
    gc.freeze()
    gc.set_threshold(*PYTHON_PACE)
