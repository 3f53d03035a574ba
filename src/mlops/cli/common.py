"""What the subcommands share: the consoles, option types, exit codes and small printers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()
errors = Console(stderr=True)

ParamsOption = Annotated[Path, typer.Option("--params", help="Pipeline parameters.")]
ActorOption = Annotated[
    str | None, typer.Option(help="Who acts (default: $MLOPS_ACTOR, $GITHUB_ACTOR, git user.name).")
]
ReasonOption = Annotated[str, typer.Option(help="Why: kept in the tag annotation.")]
PushOption = Annotated[bool, typer.Option(help="Push the new tags to origin.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
SchedulerOption = Annotated[str | None, typer.Option(help="Dask scheduler address.")]
LocalClusterOption = Annotated[int, typer.Option(help="Dask workers started here (0: no).")]

GATE_REJECT_EXIT = 3
DRIFT_EXIT = 3  # mlops monitor drift: sustained drift, retraining recommended
DATA_QUALITY_EXIT = 4  # mlops monitor drift: the newest window has a data problem
NO_DATA_EXIT = 5  # mlops monitor drift: no row scored by the model could be judged


def actor_name(actor: str | None) -> str:
    """The actor given, or the one the environment names."""
    from mlops import git

    return actor or git.actor()


def print_table(title: str, values: dict[str, Any]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in values.items():
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
