"""`aictl check`: preflight every node (GPU, driver, fabric manager, HCAs, PCIe, bond...)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aictl.cli._handle import run
from aictl.cli._options import (
    ForceOpt,
    ForksOpt,
    JumpOpt,
    KeyOpt,
    KnownHostsOpt,
    KubeconfigOpt,
    LimitOpt,
    MaxDrainOpt,
    MaxShareOpt,
    OutDirOpt,
    Output,
    OutputOpt,
    PresetOpt,
    SchedulerOpt,
    SlurmConfOpt,
    SpecArg,
    TargetOpt,
    TimeoutOpt,
    UserOpt,
    fleet,
)
from aictl.cli._sched import SchedArgs
from aictl.sched.breaker import MAX_NODES, MAX_SHARE
from aictl.sched.model import Scheduler

if TYPE_CHECKING:
    from collections.abc import Callable

    from aictl.checks import commands, rules
    from aictl.checks.preflight import PreflightReport
    from aictl.checks.watch import Transition

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
    dcgm: Annotated[
        int | None,
        typer.Option(
            "--dcgm", min=1, max=3, help="Also run dcgmi diag -r LEVEL -j (1 quick .. 3 long)."
        ),
    ] = None,
    since: Annotated[
        int,
        typer.Option("--since", min=60, help="Kernel and fabric manager log window, seconds."),
    ] = 86400,
    watch: Annotated[
        float | None,
        typer.Option("--watch", min=1, help="Re-run every SECONDS; print only transitions."),
    ] = None,
    rounds: Annotated[
        int | None, typer.Option("--rounds", min=1, help="With --watch: stop after N rounds.")
    ] = None,
    prom: Annotated[
        Path | None,
        typer.Option("--prom", help="Also write Prometheus text exposition (textfile collector)."),
    ] = None,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Check this node only, no SSH, against its installed profile (the contract "
            "of Slurm's HealthCheckProgram: one line per failure, non-zero exit).",
        ),
    ] = False,
    profile: Annotated[
        Path,
        typer.Option("--profile", help="With --local: the node profile aictl provision installed."),
    ] = Path("/etc/aictl/profile.json"),
    node: Annotated[
        str | None,
        typer.Option(
            "--node",
            envvar="SLURMD_NODENAME",
            help="With --local: this node's scheduler name (default: the short hostname).",
        ),
    ] = None,
    drain: Annotated[
        bool,
        typer.Option(
            "--drain",
            help="Drain failing nodes in the scheduler with the failing check as the reason "
            "(with --local: this node, and return it when it passes again if aictl drained it).",
        ),
    ] = False,
    scheduler: SchedulerOpt = Scheduler.slurm,
    force: ForceOpt = False,
    max_drain: MaxDrainOpt = MAX_NODES,
    max_share: MaxShareOpt = MAX_SHARE,
    slurm_conf: SlurmConfOpt = None,
    kubeconfig: KubeconfigOpt = None,
) -> None:
    """Preflight: run every check on every node in parallel; a node x check matrix.

    Checks: GPU count/model, driver (same on all), fabric manager, nvidia_peermem, MOFED (same
    on all), rail HCA ports, GPU-NIC PCIe affinity, PCIe link width/speed, ACS, bond (802.3ad,
    one aggregator), MTUs, ECC/retired pages, NVLink; day-2 faults: Xid/SXid in the kernel
    log, clock throttling, PCIe AER, NVLink error counters, DCGM diagnostics (--dcgm) — each
    node against its own profile. --watch re-runs and prints only transitions; --prom writes
    the results for node_exporter's textfile collector.
    Writes build/<cluster>/check.json. Exit 10 when any node fails a check (7 is not used: an
    unreachable node fails `ssh`).

    --drain drains each failing node (Slurm or Kubernetes, within the circuit breaker);
    --local checks only the node it runs on, as a scheduler's health check.

    Example: aictl check --preset lab-small --target lab --limit su01
    """
    sched = SchedArgs(scheduler, force, max_drain, max_share, slurm_conf, kubeconfig)
    if local:
        from aictl.checks import commands

        run(
            lambda: _local(
                profile, node, commands.Options(window_s=since, dcgm=dcgm), sched if drain else None
            )
        )
        return

    def body() -> None:
        from aictl.checks import preflight
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
        from aictl.checks import commands
        from aictl.checks import prom as promfile

        options = commands.Options(window_s=since, dcgm=dcgm)

        def once() -> preflight.PreflightReport:
            rep = preflight.run(f.topo, f.hosts, f.executor(), options=options)
            preflight.save(rep, f.build)
            if prom is not None:
                promfile.write(rep, prom)
            return rep

        if watch is not None:
            report = _watch(once, watch, rounds, output)
        else:
            report = once()
            _show(report, f.build, output)
        if drain and report.failing:
            from aictl.cli._sched import command_line, drain_failing
            from aictl.sched.model import check_reason

            drain_failing(
                {
                    n: check_reason(bad[0].check, bad[0].message)
                    for n, bad in report.failing.items()
                },
                fleet=len(f.topo.nodes),
                build=f.build,
                sched=sched,
                command=command_line("check", drain=True, limit=limit, target=target),
                target_env=f.target.slurm_env(),
            )
        if report.failing:
            names = list(report.failing)
            raise PreflightError(
                f"{len(names)} node(s) failed preflight: {', '.join(names)}",
                hint="each failure above says what to do; re-run aictl check when fixed",
            )

    run(body)


def _show(report: PreflightReport, build: Path, output: Output) -> None:
    """The node x check matrix, then every failure with its fix."""
    from aictl import ui
    from aictl.checks.rules import BY_NAME

    data = report.as_json()
    if output is Output.json:
        ui.print_json(data)
    else:
        several = len(set(report.groups.values())) > 1
        # two matrices, bring-up then day-2, so that each fits a terminal's width
        split = report.checks.index("xid") if "xid" in report.checks else len(report.checks)
        for part, cols in (
            ("preflight", report.checks[:split]),
            ("day-2 faults", report.checks[split:]),
        ):
            if not cols:
                continue
            ui.table(
                f"{part}: {report.cluster}" + (" (simulated hardware)" if report.simulated else ""),
                ["node", *(["group"] if several else []), *(BY_NAME[c].short for c in cols)],
                [
                    [
                        n,
                        *([report.groups.get(n, "")] if several else []),
                        *(_CELL[r.status.value] for r in row if r.check in cols),
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
            "nvl=NVLink, thr=clock throttling, aer=PCIe AER, nvle=NVLink errors; "
            "'-' = not applicable or not run"
        )
        ok = len(report.rows) - len(report.failing)
        ui.say(f"{ok}/{len(report.rows)} nodes pass; results in {build / 'check.json'}")


def _watch(
    once: Callable[[], PreflightReport], every: float, rounds: int | None, output: Output
) -> PreflightReport:
    """Print each round's transitions: `node check old -> new: message`, with the fix."""
    from aictl import ui
    from aictl.checks.watch import watch

    def show(n: int, report: PreflightReport, changes: list[Transition]) -> None:
        if output is Output.json:
            ui.print_json(
                {
                    "round": n,
                    "failing": list(report.failing),
                    "transitions": [
                        {
                            "node": t.node,
                            "check": t.check,
                            "old": t.old,
                            "new": t.new,
                            "message": t.message,
                            "fix": t.fix,
                        }
                        for t in changes
                    ],
                }
            )
            return
        for t in changes:
            ui.say(f"[bold]{t.node}[/bold] {t.check} {t.old or '-'} -> {t.new}: {t.message}")
            if t.fix and t.new in ("fail", "error"):
                ui.say(f"  fix: {t.fix}")
        if n == 1:
            ui.say(
                f"round 1: {len(report.rows) - len(report.failing)}/{len(report.rows)} nodes pass"
            )

    return watch(once, every, show, rounds=rounds)


def _local(
    profile: Path, node: str | None, options: commands.Options, sched: SchedArgs | None
) -> None:
    """`check --local`: one line per failure, exit 10 on failure; with --drain this node is
    drained with its first failing check as the reason, and returned when it passes again
    if the drain was aictl's."""
    import socket

    from aictl import ui
    from aictl.errors import PreflightError
    from aictl.sched import local

    me = node or socket.gethostname().split(".")[0]
    nodeprof = local.NodeProfile.load(profile)
    results = local.check(nodeprof, options, name=me)
    bad = [r for r in results if r.status.failed]
    for r in bad:
        ui.say(f"{me} {r.check}: {r.message}" + (f" (fix: {r.fix})" if r.fix else ""))
    if sched is not None:
        _local_drain(me, bad, sched)
    if bad:
        raise PreflightError(
            f"{me}: {len(bad)} check(s) failed: {', '.join(r.check for r in bad)}",
            hint="each line above says what failed and what to do",
        )
    ui.say(f"{me}: {len(results)} checks pass ({nodeprof.group})")


def _local_drain(me: str, bad: list[rules.Result], sched: SchedArgs) -> None:
    from aictl.cli._sched import command_line, show
    from aictl.sched import service
    from aictl.sched.actions import ActionLog
    from aictl.sched.model import check_reason

    be = sched.backend()
    log = ActionLog(None)
    if bad:
        outcome = service.drain(
            be,
            {me: check_reason(bad[0].check, bad[0].message)},
            fleet=0,
            log=log,
            command=command_line("check", local=True, drain=True),
            breaker=sched.breaker(),
            force=sched.force,
        )
    else:
        outcome = service.undrain(
            be, [me], log=log, command=command_line("check", local=True, drain=True)
        )
        outcome.actions = [a for a in outcome.actions if a.ok]
    show(outcome)
