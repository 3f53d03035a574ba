"""The root command and the one error handler around every subcommand."""

from __future__ import annotations

from typing import Any, NoReturn

import typer
from rich.markup import escape
from typer.core import TyperGroup

from mlops import gc_pace
from mlops.cli.common import errors
from mlops.errors import MlopsError
from mlops.extras import install_hint


class _ReportsFailures(TyperGroup):
    """Every command's expected failures (``MlopsError``: bad input or state, a missing file
    the user named, an optional dependency the job did not install) print one line and exit 1;
    anything else is a bug and keeps its traceback. One handler at the root, around every
    subcommand."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context
        try:
            return super().invoke(ctx)
        except (MlopsError, FileNotFoundError) as error:
            _fail(str(error))
        except ModuleNotFoundError as error:
            hint = install_hint(error)
            if hint is None:
                raise
            _fail(hint)


def _fail(message: str) -> NoReturn:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(1) from None


app = typer.Typer(
    cls=_ReportsFailures,
    help="GitOps template for machine-learning operations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def main() -> None:
    """The ``mlops`` command: the app, in a process paced as a command (``gc_pace``)."""
    gc_pace.for_command()
    try:
        app()
    finally:
        gc_pace.before_exit()
