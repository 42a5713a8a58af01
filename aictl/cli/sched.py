"""`aictl drain` and `aictl undrain`: take nodes out of the scheduler with a reason, and
return the ones aictl took out once they pass again."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aictl.cli._handle import run
from aictl.cli._options import (
    ForceOpt,
    ForksOpt,
    JumpOpt,
    KeyOpt,
    KnownHostsOpt,
    KubeconfigOpt,
    MaxDrainOpt,
    MaxShareOpt,
    OutDirOpt,
    PresetOpt,
    SchedulerOpt,
    SlurmConfOpt,
    TargetOpt,
    TimeoutOpt,
    UserOpt,
    build_dir,
    load,
    plan,
)
from aictl.sched.breaker import MAX_NODES, MAX_SHARE
from aictl.sched.model import Scheduler

NodesArg = Annotated[str, typer.Argument(help="Nodes: host globs, SUs or racks, comma separated.")]
SpecOpt = Annotated[Path | None, typer.Option("--spec", "-s", help="Cluster spec YAML file.")]


def drain_cmd(
    nodes: NodesArg,
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept by the scheduler).")],
    spec: SpecOpt = None,
    preset: PresetOpt = None,
    scheduler: SchedulerOpt = Scheduler.slurm,
    isolate: Annotated[
        str | None,
        typer.Option(
            "--isolate-port",
            help="Also render the UFM request isolating this rail (mlx5_2 or its netdev).",
        ),
    ] = None,
    force: ForceOpt = False,
    max_drain: MaxDrainOpt = MAX_NODES,
    max_share: MaxShareOpt = MAX_SHARE,
    target: TargetOpt = None,
    slurm_conf: SlurmConfOpt = None,
    kubeconfig: KubeconfigOpt = None,
    out: OutDirOpt = None,
) -> None:
    """Drain NODES: no new work lands on them; running work finishes.

    Slurm: scontrol update State=DRAIN Reason="aictl: ..."; Kubernetes: cordon, a NoSchedule
    taint aictl.io/unhealthy and the reason in an annotation. A circuit breaker refuses to
    hold more than 10% of the fleet or 8 nodes (whichever is smaller, at least one) drained
    without --force. Every action is logged in build/<cluster>/actions.jsonl.
    Exit 11 when the scheduler refuses or the breaker stops the drain.

    Example: aictl drain node05 --reason "Xid 79 on GPU 3" --preset lab-small
    """

    def body() -> None:
        from aictl import fsio, jsonio, ui
        from aictl.cli._sched import SchedArgs, command_line, drain_failing
        from aictl.errors import ExitCode, UsageError
        from aictl.sched import ufm
        from aictl.sched.model import marked, reason_problem
        from aictl.target import load_target, select

        if why := reason_problem(reason):
            raise UsageError(f"--reason: {why}", hint='e.g. --reason "Xid 79 on GPU 3"')
        topo = plan(load(spec, preset))
        build = build_dir(topo, out)
        picked = [n.name for n in select(topo, nodes)]
        requests = (
            [ufm.isolate_request(topo, n, isolate, marked(reason)) for n in picked]
            if (isolate)
            else []
        )
        drain_failing(
            {n: marked(reason) for n in picked},
            fleet=len(topo.nodes),
            build=build,
            sched=SchedArgs(scheduler, force, max_drain, max_share, slurm_conf, kubeconfig),
            command=command_line("drain", nodes, reason=reason, isolate_port=isolate, force=force),
            target_env=load_target(build, topo.name, target).slurm_env(),
        )
        for req in requests:
            rel = f"ufm/isolate-{req['node']}-{req['device']}.json"
            path = fsio.write_file(build, rel, jsonio.dumps(req).encode(), stage=ExitCode.SCHEDULER)
            ui.say(
                f"UFM: isolate {req['switch']} port {req['switch_port']} (cable {req['cable']}): "
                f"{req['method']} {req['path']} with {path}"
            )

    run(body)


def undrain_cmd(
    nodes: NodesArg,
    spec: SpecOpt = None,
    preset: PresetOpt = None,
    scheduler: SchedulerOpt = Scheduler.slurm,
    no_check: Annotated[
        bool,
        typer.Option("--no-check", help="Return them without running aictl check on them first."),
    ] = False,
    target: TargetOpt = None,
    user: UserOpt = None,
    key: KeyOpt = None,
    known_hosts: KnownHostsOpt = None,
    jump: JumpOpt = None,
    forks: ForksOpt = 64,
    timeout: TimeoutOpt = 60.0,
    slurm_conf: SlurmConfOpt = None,
    kubeconfig: KubeconfigOpt = None,
    out: OutDirOpt = None,
) -> None:
    """Return NODES that aictl drained, once they pass `aictl check` again.

    A node drained by another hand (its reason lacks aictl's mark) is left as it is; a node
    that still fails a check stays drained, with the failure said. Exit 10 when a node still
    fails, 11 when a node was not aictl's to return.

    Example: aictl undrain node05 --preset lab-small --target lab
    """

    def body() -> None:
        from aictl.cli._options import fleet
        from aictl.cli._sched import backend, command_line, show
        from aictl.errors import PreflightError, SchedulerError
        from aictl.sched import service
        from aictl.sched.actions import ActionLog
        from aictl.sched.model import ActionKind
        from aictl.target import load_target, select

        topo = plan(load(spec, preset))
        build = build_dir(topo, out)
        picked = [n.name for n in select(topo, nodes)]
        target_env = load_target(build, topo.name, target).slurm_env()
        failing: dict[str, str] = {}
        if not no_check:
            from aictl.checks import preflight

            f = fleet(
                spec,
                preset,
                out=out,
                target=target,
                limit=",".join(picked),
                user=user,
                key=key,
                known_hosts=known_hosts,
                jump=jump,
                timeout=timeout,
                forks=forks,
            )
            rep = preflight.run(f.topo, f.hosts, f.executor())
            failing = {
                n: "; ".join(f"{r.check}: {r.message}" for r in bad)
                for n, bad in rep.failing.items()
            }
        outcome = service.undrain(
            backend(scheduler, slurm_conf, kubeconfig, target_env),
            picked,
            log=ActionLog(build),
            command=command_line("undrain", nodes, no_check=no_check),
            failing=failing,
        )
        show(outcome)
        if not outcome.actions:
            from aictl import ui

            ui.say("no node to return: none of them is drained")
        if outcome.of(ActionKind.refused):
            raise SchedulerError(
                f"{len(outcome.of(ActionKind.refused))} node(s) not drained by aictl: left as is",
                hint="aictl returns only what it drained; scontrol/kubectl uncordon by hand",
            )
        if outcome.of(ActionKind.kept):
            raise PreflightError(
                f"{len(outcome.of(ActionKind.kept))} node(s) still fail and stay drained",
                hint="fix what the check says, then aictl undrain again",
            )

    run(body)
