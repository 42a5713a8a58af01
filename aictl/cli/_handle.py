"""Turn library exceptions into messages and exit codes; the only `except AictlError`."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import typer

from aictl.errors import AictlError, ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")

DEBUG = {"on": False}


def run(fn: Callable[[], T]) -> T:
    """Run a command body; map AictlError to its exit code, anything else to INTERNAL."""
    from aictl import buildlock, ui

    # a command that waits for another's build directory says so, once
    buildlock.on_wait(lambda msg: ui.err().print(msg, markup=False))
    try:
        return fn()
    except AictlError as exc:
        if DEBUG["on"]:
            raise
        ui.print_error(exc)
        raise typer.Exit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        ui.err().print("interrupted", markup=False)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if DEBUG["on"]:
            raise
        ui.print_internal(exc)
        raise typer.Exit(int(ExitCode.INTERNAL)) from None
