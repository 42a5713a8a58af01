"""`aictl inventory`: the Ansible inventory of a cluster, from its plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aictl.cli._handle import run
from aictl.cli._options import PresetOpt, SpecArg, load, plan


def inventory_cmd(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory to write (default: build/<cluster>/inventory)."),
    ] = None,
) -> None:
    """Write an inventory plain `ansible-playbook -i DIR` accepts (also written by render).

    Example: aictl inventory --preset lab-small --out inventories/lab
    """

    def body() -> None:
        from aictl import fsio, ui
        from aictl.errors import ExitCode
        from aictl.render.targets.inventory import render_inventory

        topo = plan(load(spec, preset))
        dest = out or Path("build") / topo.name / "inventory"
        arts = render_inventory(topo)
        with fsio.publish(dest, stage=ExitCode.RENDER, marker="inventory") as pub:
            for art in arts:
                pub.write(art.path.removeprefix("inventory/"), art.data)
        ui.say(f"wrote {len(arts)} files to {dest}/ (ansible-playbook -i {dest} ...)")

    run(body)
