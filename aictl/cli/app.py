"""`aictl`: the root typer app. Sub-commands live one group per module."""

from __future__ import annotations

from typing import Annotated

import typer

from aictl import __version__
from aictl.cli import accept as accept_cmd
from aictl.cli import check as check_cmd
from aictl.cli import exec as exec_cmd
from aictl.cli import inventory as inventory_cmd
from aictl.cli import lab as lab_cmd
from aictl.cli import provision as provision_cmd
from aictl.cli import render as render_cmd
from aictl.cli import report as report_cmd
from aictl.cli import sched as sched_cmd
from aictl.cli import spec as spec_cmd
from aictl.cli import topo as topo_cmd
from aictl.cli._handle import DEBUG

app = typer.Typer(
    name="aictl",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="Plan, render, provision, verify and accept rail-optimized GPU clusters.\n\n"
    "Example: aictl topo plan --preset a800-200",
)
app.add_typer(spec_cmd.app, name="spec")
app.add_typer(topo_cmd.app, name="topo")
app.command("render")(render_cmd.render_cmd)
app.add_typer(lab_cmd.app, name="lab")
app.command("exec")(exec_cmd.exec_cmd)
app.command("inventory")(inventory_cmd.inventory_cmd)
app.command("provision")(provision_cmd.provision_cmd)
app.command("check")(check_cmd.check_cmd)
app.add_typer(accept_cmd.app, name="accept")
app.command("report")(report_cmd.report_cmd)
app.command("drain")(sched_cmd.drain_cmd)
app.command("undrain")(sched_cmd.undrain_cmd)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aictl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    DEBUG["on"] = debug
