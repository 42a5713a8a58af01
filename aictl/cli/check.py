"""`aictl check`: preflight every node (GPU, driver, fabric manager, HCAs, PCIe, bond...)."""

from __future__ import annotations

from aictl.cli._handle import run
from aictl.cli._options import (
    ForksOpt,
    JumpOpt,
    KeyOpt,
    KnownHostsOpt,
    LimitOpt,
    OutDirOpt,
    Output,
    OutputOpt,
    PresetOpt,
    SpecArg,
    TimeoutOpt,
    UserOpt,
)

_CELL = {"ok": "ok", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]", "skip": "-"}
# short column heads so the matrix fits 80 columns
_HEAD = {"driver": "drv", "fabricmanager": "fm", "peermem": "peer", "affinity": "aff"}
_HEAD.update({"nvlink": "nvl"})


def check_cmd(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    limit: LimitOpt = None,
    user: UserOpt = "root",
    key: KeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    jump: JumpOpt = None,
    forks: ForksOpt = 64,
    timeout: TimeoutOpt = 60.0,
    out: OutDirOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Preflight: run every check on every node in parallel; a node x check matrix.

    Checks: GPU count/model, driver (same on all), fabric manager, nvidia_peermem, MOFED (same
    on all), rail HCA ports, GPU-NIC PCIe affinity, PCIe link width/speed, ACS, bond (802.3ad,
    one aggregator), MTUs, ECC/retired pages, NVLink. Writes build/<cluster>/check.json.
    Exit 10 when any node fails a check (7 is not used: an unreachable node fails `ssh`).

    Example: aictl check --preset lab-small --limit su01
    """

    def body() -> None:
        from aictl import fsio, jsonio, ui
        from aictl.checks import preflight
        from aictl.cli.exec import fleet, ssh_options
        from aictl.errors import ExitCode, PreflightError

        topo, targets, build = fleet(spec, preset, limit, out)
        opts = ssh_options(
            build,
            user=user,
            key=key,
            known_hosts=known_hosts,
            jump=jump,
            timeout=timeout,
            forks=forks,
        )
        data = preflight.run(topo, targets, opts)
        data["cluster"] = topo.name
        fsio.write_file(
            build, "check.json", jsonio.dumps(data).encode(), stage=ExitCode.PREFLIGHT_FAILED
        )
        if output is Output.json:
            ui.print_json(data)
        else:
            checks = data["checks"]
            ui.table(
                f"preflight: {topo.name}" + (" (simulated hardware)" if data["simulated"] else ""),
                ["node", *(_HEAD.get(c, c) for c in checks)],
                [[n, *(_CELL[row[c]] for c in checks)] for n, row in data["matrix"].items()],
                compact=True,
            )
            for node, fails in data["failing"].items():
                for f in fails:
                    ui.say(f"[bold]{node}[/bold] {f['check']}: {f['message']}")
                    if f["fix"]:
                        ui.say(f"  fix: {f['fix']}")
            ui.say(
                "fm=fabric manager, peer=nvidia_peermem, aff=GPU-NIC affinity, drv=driver, "
                "nvl=NVLink; '-' = not applicable"
            )
            ok = data["nodes"] - len(data["failing"])
            ui.say(f"{ok}/{data['nodes']} nodes pass; results in {build / 'check.json'}")
        if data["failing"]:
            names = list(data["failing"])
            raise PreflightError(
                f"{len(names)} node(s) failed preflight: {', '.join(names)}",
                hint="each failure above says what to do; re-run aictl check when fixed",
            )

    run(body)
