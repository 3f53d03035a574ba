"""How often Python's garbage collector runs, for the platform's two kinds of process.

A command (``mlops ...``) builds most of what it holds as it starts: its modules, a model,
frames, a few hundred thousand objects kept until it exits. At Python's pace (a young
collection every 700 new objects, a full one as the heap grows by a quarter) the collector
walks that growing heap again and again and finds almost nothing to free: 4-6% of the CPU of
``mlops monitor drift`` (benchmarks/drift.py). A command collects young objects every
100,000 instead; cycles are still freed, later.

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


def for_service() -> None:
    """The pace of a long-running service, once it has loaded what it serves."""
    gc.collect()
    # What loading left (a model, its libraries: ~200,000 objects) is kept out of the full
    # passes, which walked it all amid requests: 110 ms each.
    gc.freeze()
    gc.set_threshold(*PYTHON_PACE)
