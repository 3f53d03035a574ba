"""The garbage collector's pace: a command collects rarely and not at its exit, a service at
Python's own pace."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mlops import gc_pace
from mlops.cli import main


@pytest.fixture(autouse=True)
def _pace_restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_the_mlops_command_runs_at_a_commands_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["mlops", "--help"])
    with pytest.raises(SystemExit) as finished:
        main()
    assert finished.value.code == 0
    assert gc.get_threshold() == gc_pace.COMMAND_PACE
    assert gc_pace.COMMAND_PACE[0] > gc_pace.PYTHON_PACE[0]
    assert gc.get_freeze_count() > 0  # what it built is left to the exit, not walked again


def test_a_service_freezes_what_it_loaded_and_returns_to_pythons_pace() -> None:
    gc_pace.for_command()
    loaded = [[index] for index in range(1000)]  # what loading left, kept
    gc_pace.for_service()
    assert gc.get_threshold() == gc_pace.PYTHON_PACE
    assert gc.get_freeze_count() >= len(loaded)
