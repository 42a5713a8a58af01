"""`aictl lab`: the cluster twin on this machine (up, status, inject, clear, down)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aictl.cli._handle import run
from aictl.cli._options import OutDirOpt, Output, OutputOpt, PresetOpt, SpecArg, load, plan

app = typer.Typer(
    no_args_is_help=True,
    help="The lab: a whole cluster twin on this machine "
    "(real sshd and subnet manager, simulated GPUs and HCAs).",
)

ClusterOpt = Annotated[
    str | None, typer.Option("--cluster", "-c", help="Which lab (default: the only one up).")
]


def _cluster(name: str | None) -> str:
    from aictl.errors import UsageError
    from aictl.lab import labs_up

    if name:
        return name
    up = labs_up()
    if len(up) == 1:
        return up[0]
    if not up:
        raise UsageError("no lab is up", hint="aictl lab up --preset lab-small")
    raise UsageError(f"{len(up)} labs are up: {', '.join(up)}", hint="pick one with --cluster")


def _show(status: dict[str, Any], output: Output) -> None:
    from aictl import ui

    if output is Output.json:
        ui.print_json(status)
        return
    ui.table(
        f"lab {status['cluster']} (simulated GPUs and HCAs)",
        ["node", "management", "netns", "sshd"],
        [[n["name"], n["mgmt_ip"], n["netns"], n["sshd"]] for n in status["nodes"]],
    )
    fab = status["fabric"]
    if fab:
        ui.say(
            f"fabric: ibsim {fab['ibsim']}, opensm {fab['opensm']} ({fab['routing']} "
            f"routing), diags on {fab['head']}"
        )
    for f in status["faults"]:
        ui.say(
            f"fault: {f['kind']} on {f['host']}"
            + (f" rail {f['rail']}" if f["rail"] is not None else "")
        )
    client = status.get("client") or {}
    if client:
        ui.say(f"ssh -F {client['ssh_config']} {status['nodes'][0]['name']}")


@app.command("up")
def up(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    out: OutDirOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Bring up a lab node per planned node, the fabric and the simulated tools (root).

    Example: aictl lab up --preset lab-small
    """

    def body() -> None:
        from aictl.lab import lab_up

        if spec is None and preset is None:
            topo = plan(load(None, "lab-small"))
        else:
            topo = plan(load(spec, preset))
        _show(lab_up(topo, build=out or Path("build") / topo.name), output)

    run(body)


@app.command("status")
def status(cluster: ClusterOpt = None, output: OutputOpt = Output.table) -> None:
    """Nodes, addresses, fabric state and active faults.

    Example: aictl lab status -o json
    """

    def body() -> None:
        from aictl.lab import lab_status

        _show(lab_status(_cluster(cluster)), output)

    run(body)


@app.command("inject")
def inject(
    kind: Annotated[
        str,
        typer.Argument(
            help="slow-nic, port-down, swap-cables, pcie-degraded, "
            "peermem-missing, fabricmanager-stopped, ecc-errors, nvlink-down, "
            "sshd-down; day-2: xid, gpu-missing, throttle, link-errors, link-flap, "
            "fabric-state, dcgm-fail, aer-errors, nvlink-errors"
        ),
    ],
    host: Annotated[str, typer.Option("--host", help="Node to break.")],
    rail: Annotated[int | None, typer.Option("--rail", help="Rail (NIC index).")] = None,
    gpu: Annotated[int | None, typer.Option("--gpu", help="GPU index.")] = None,
    factor: Annotated[
        float | None,
        typer.Option(
            "--factor",
            help="slow-nic: bandwidth factor; pcie-degraded: link width; nvlink-down: links.",
        ),
    ] = None,
    with_host: Annotated[
        str | None,
        typer.Option(
            "--with-host", help="swap-cables: the other node (default: the next rail of --host)."
        ),
    ] = None,
    code: Annotated[
        int | None, typer.Option("--code", help="xid: the Xid the kernel logs (default 119).")
    ] = None,
    cluster: ClusterOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Inject a fault the later stages must find.

    Example: aictl lab inject slow-nic --host node03 --rail 2 --factor 0.5
    """

    def body() -> None:
        from aictl import ui
        from aictl.lab import lab_inject

        fault = lab_inject(
            _cluster(cluster),
            kind,
            host=host,
            rail=rail,
            gpu=gpu,
            factor=factor,
            with_host=with_host,
            code=code,
        )
        if output is Output.json:
            ui.print_json(fault)
        else:
            ui.say(f"injected {kind} on {host}")

    run(body)


@app.command("clear")
def clear(cluster: ClusterOpt = None) -> None:
    """Undo every injected fault.

    Example: aictl lab clear
    """

    def body() -> None:
        from aictl import ui
        from aictl.lab import lab_clear

        ui.say(f"cleared {lab_clear(_cluster(cluster))} fault(s)")

    run(body)


@app.command("down")
def down(cluster: ClusterOpt = None) -> None:
    """Remove everything the lab created: processes, namespaces, bridges, mounts, files.

    Example: aictl lab down
    """

    def body() -> None:
        from aictl import ui
        from aictl.lab import lab_down

        removed = lab_down(_cluster(cluster))
        ui.say(f"lab down: removed {len(removed)} item(s)")

    run(body)
