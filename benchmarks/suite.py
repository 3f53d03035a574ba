"""Where the test suite's time goes: wall, CPU per test file, test and command, idle workers.

Runs pytest with the arguments given (`nox -s benchmark-suite` passes those of `nox -s tests`:
a worker per core, whole files, slow files first) with two small hooks on PYTHONPATH: a
``sitecustomize`` with which every Python process the suite starts records, at exit, its own
CPU time and the test that started it (``PYTEST_CURRENT_TEST``, inherited), and a pytest plugin
that records when each test ran on which worker and the CPU it took, in the worker and in the
processes it started and reaped. Prints tables; asserts nothing: the figures are the machine's,
and CPU seconds vary less with other processes' load than wall seconds do.

Processes ended by a signal (servers the tests stop) record nothing themselves: their CPU is in
the "not recorded" line (the suite's whole CPU, its reaped descendants, minus what was
recorded) and, through the plugin, in the CPU of the test that stopped them.

    python benchmarks/suite.py [PYTEST ARGUMENTS...]
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from mlops.markdown import table

ROOT = Path(__file__).resolve().parents[1]
SHOWN = 15  # rows per table
WORKERS = "python -c (pytest workers, helpers)"
IN_WORKER = "(in the pytest worker)"
OUTSIDE_TESTS = "(pytest workers outside tests: start-up, collection)"

# Every Python process: at exit, its own CPU seconds, command line and the test that started it.
SITECUSTOMIZE = """
import atexit, json, os, resource, sys

def _record():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    line = json.dumps({"argv": sys.argv[:3], "cpu": usage.ru_utime + usage.ru_stime,
                       "test": os.environ.get("PYTEST_CURRENT_TEST", ""),
                       "worker": os.environ.get("PYTEST_XDIST_WORKER", "")})
    with open(os.environ["SUITE_PROCESSES"], "a") as log:
        log.write(line + "\\n")

atexit.register(_record)
"""

# In each pytest worker: when each test started and ended, the CPU it spent in the worker, and
# the CPU of the processes it started and reaped (servers stopped by a signal and git included).
PLUGIN = """
import json, os, resource, time
import pytest

def _cpu(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    started = time.time()
    cpu, children = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    yield
    line = json.dumps({"worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
                       "test": item.nodeid, "start": started, "end": time.time(),
                       "cpu": _cpu(resource.RUSAGE_SELF) - cpu,
                       "children": _cpu(resource.RUSAGE_CHILDREN) - children})
    with open(os.environ["SUITE_TESTS"], "a") as log:
        log.write(line + "\\n")
"""


def _command(argv: list[str]) -> str:
    """A process's command as people name it: ``mlops evaluate``, ``dvc add``, ``pytest``."""
    if argv == [IN_WORKER]:
        return IN_WORKER
    if not argv or argv[0] in ("-c", ""):
        return WORKERS
    program = Path(argv[0]).name
    if program == "__main__.py":  # python -m PACKAGE
        program = Path(argv[0]).parent.name
    words = [word for word in argv[1:3] if re.fullmatch(r"[a-z][a-z-]*", word)]  # no paths
    return " ".join([program, *words[: 2 if program == "mlops" else 1]])


def _records(path: Path) -> list[dict]:
    """A hook's log, one JSON object per line."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        hooks = Path(folder)
        (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
        (hooks / "suite_timing.py").write_text(PLUGIN)
        processes, tests = hooks / "processes.jsonl", hooks / "tests.jsonl"
        python_path = os.pathsep.join(filter(None, [folder, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": python_path}
        env |= {"SUITE_PROCESSES": str(processes), "SUITE_TESTS": str(tests)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "suite_timing", *sys.argv[1:]]
        started = time.perf_counter()
        code = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        _report(wall, usage.ru_utime + usage.ru_stime, _records(processes), _records(tests))
    sys.exit(code)


def _report(wall: float, cpu: float, processes: list[dict], tests: list[dict]) -> None:
    """The tables: the run as a whole, then CPU by test file, by test and by command."""
    by_file: dict[str, float] = defaultdict(float)
    by_command: dict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    for process in _split_workers(processes, tests):
        test_file = process["test"].split("::")[0] or OUTSIDE_TESTS
        by_file[test_file] += process["cpu"]
        name = _command(process["argv"])
        by_command[name] += process["cpu"]
        calls[name] += 1
    recorded = sum(by_file.values())
    workers: dict[str, list[float]] = defaultdict(list)
    for test in tests:
        workers[test["worker"]] += [test["start"], test["end"]]
    first = min((min(times) for times in workers.values()), default=0.0)
    ends = {worker: max(times) - first for worker, times in sorted(workers.items())}
    idle = sum(max(ends.values()) - end for end in ends.values()) if ends else 0.0

    print(f"\nTest suite — {os.cpu_count()} cores, {len(workers)} workers, {len(tests)} tests\n")
    lines = [
        ("wall", f"{wall:.0f}", ""),
        ("CPU, all processes", f"{cpu:.0f}", f"{cpu / wall:.2f} cores busy on average"),
        ("CPU recorded per process", f"{recorded:.0f}", f"{recorded / cpu:.0%} of all"),
        ("CPU not recorded", f"{cpu - recorded:.0f}", "processes ended by a signal, non-Python"),
        *(
            (f"worker {worker} done", f"{end:.0f}", "after the first test")
            for worker, end in ends.items()
        ),
        ("workers idle at the end", f"{idle:.0f}", f"{idle / (wall * len(ends) or 1):.0%}"),
    ]
    print("\n".join(table(["measure", "seconds", ""], lines, "lrl")))
    print("\nCPU by the test file that started the process\n")
    files = [(name, f"{spent:.0f}", f"{spent / recorded:.0%}") for name, spent in _top(by_file)]
    print("\n".join(table(["test file", "CPU s", "share"], files, "lrr")))
    print("\nCPU by test: in the worker and in every process it started (a shared fixture counts")
    print("for the first test that asked for it)\n")
    by_test = {test["test"]: test["cpu"] + test["children"] for test in tests}
    named = [(name, f"{spent:.0f}", f"{spent / cpu:.0%}") for name, spent in _top(by_test)]
    print("\n".join(table(["test", "CPU s", "share of all"], named, "lrr")))
    print("\nCPU by command\n")
    commands = [
        (name, calls[name], f"{spent:.0f}", f"{spent / calls[name]:.2f}")
        for name, spent in _top(by_command)
    ]
    print("\n".join(table(["command", "processes", "CPU s", "CPU s each"], commands, "lrrr")))


def _split_workers(processes: list[dict], tests: list[dict]) -> list[dict]:
    """The processes, with each pytest worker's own CPU split into what each test spent in it
    (a process of its own, started by that test) and the rest: start-up and collection."""
    in_tests: dict[str, float] = defaultdict(float)
    split = []
    for test in tests:
        in_tests[test["worker"]] += test["cpu"]
        split.append({"argv": [IN_WORKER], "cpu": test["cpu"], "test": test["test"]})
    for process in processes:
        if not process["test"] and _command(process["argv"]) in (WORKERS, "pytest"):
            left = process["cpu"] - in_tests.pop(process["worker"] or "main", 0.0)
            process = {**process, "cpu": max(left, 0.0)}
        split.append(process)
    return split


def _top(seconds: dict[str, float]) -> list[tuple[str, float]]:
    """The largest first, ``SHOWN`` of them."""
    return sorted(seconds.items(), key=lambda item: -item[1])[:SHOWN]


if __name__ == "__main__":
    main()
