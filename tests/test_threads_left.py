"""The suite's guard (tests/conftest.py): a test that leaves threads running fails, one that
stops them passes."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import MAX_THREADS_LEFT

pytest_plugins = ["pytester"]

TESTS = """
import threading
import time


def _start(count):
    threads = [threading.Thread(target=time.sleep, args=(0.5,)) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def test_leaves_threads_running():
    _start({count})


def test_stops_its_threads():
    for thread in _start({count}):
        thread.join()
"""


def test_a_test_that_leaves_threads_running_fails(
    pytester: pytest.Pytester, pytestconfig: pytest.Config
) -> None:
    pytester.makeconftest("from tests.conftest import _threads_left_behind  # noqa: F401\n")
    pytester.makepyfile(test_threads=TESTS.format(count=MAX_THREADS_LEFT + 1))
    before = set(threading.enumerate())
    try:
        result = pytester.runpytest_inprocess(*pytestconfig.getini("addopts"))
    finally:  # the inner test's threads end by themselves: wait for them here
        for thread in set(threading.enumerate()) - before:
            thread.join()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*Failed: the test left {MAX_THREADS_LEFT + 1} threads running*",
            "ERROR*test_leaves_threads_running*",
        ]
    )
