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
    TargetOpt,
    TimeoutOpt,
    UserOpt,
    fleet,
)

_CELL = {"ok": "ok", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]", "skip": "-"}
_CELL["error"] = "[red]ERR[/red]"


def check_cmd(
    spec: SpecArg = None,
    preset: PresetOpt = None,
    target: TargetOpt = None,
    limit: LimitOpt = None,
    user: UserOpt = None,
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
    one aggregator), MTUs, ECC/retired pages, NVLink — each node against its own profile.
    Writes build/<cluster>/check.json. Exit 10 when any node fails a check (7 is not used: an
    unreachable node fails `ssh`).

    Example: aictl check --preset lab-small --target lab --limit su01
    """

    def body() -> None:
        from aictl import ui
        from aictl.checks import preflight
        from aictl.checks.rules import BY_NAME
        from aictl.errors import PreflightError

        f = fleet(
            spec,
            preset,
            out=out,
            target=target,
            limit=limit,
            user=user,
            key=key,
            known_hosts=known_hosts,
            jump=jump,
            timeout=timeout,
            forks=forks,
        )
        report = preflight.run(f.topo, f.hosts, f.executor())
        preflight.save(report, f.build)
        data = report.as_json()
        if output is Output.json:
            ui.print_json(data)
        else:
            checks = report.checks
            several = len(set(report.groups.values())) > 1
            ui.table(
                f"preflight: {f.topo.name}" + (" (simulated hardware)" if report.simulated else ""),
                ["node", *(["group"] if several else []), *(BY_NAME[c].short for c in checks)],
                [
                    [
                        n,
                        *([report.groups.get(n, "")] if several else []),
                        *(_CELL[r.status.value] for r in row),
                    ]
                    for n, row in report.rows.items()
                ],
                compact=True,
            )
            for node, fails in report.failing.items():
                for r in fails:
                    ui.say(f"[bold]{node}[/bold] {r.check}: {r.message}")
                    if r.fix:
                        ui.say(f"  fix: {r.fix}")
            ui.say(
                "fm=fabric manager, peer=nvidia_peermem, aff=GPU-NIC affinity, drv=driver, "
                "nvl=NVLink; '-' = not applicable"
            )
            ok = len(report.rows) - len(report.failing)
            ui.say(f"{ok}/{len(report.rows)} nodes pass; results in {f.build / 'check.json'}")
        if report.failing:
            names = list(report.failing)
            raise PreflightError(
                f"{len(names)} node(s) failed preflight: {', '.join(names)}",
                hint="each failure above says what to do; re-run aictl check when fixed",
            )

    run(body)
