"""Options of the commands that act on the scheduler (drain, undrain, check/accept --drain)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from aictl.sched.backend import Backend
    from aictl.sched.breaker import Breaker
    from aictl.sched.model import Scheduler
    from aictl.sched.service import Outcome


@dataclass(frozen=True)
class SchedArgs:
    """The scheduler options a command was given (--scheduler, the breaker, the clients'
    configuration), in one value."""

    kind: Scheduler
    force: bool
    max_drain: int
    max_share: float
    slurm_conf: Path | None
    kubeconfig: Path | None

    def backend(self, target_env: Mapping[str, str] | None = None) -> Backend:
        return backend(self.kind, self.slurm_conf, self.kubeconfig, target_env)

    def breaker(self) -> Breaker:
        return breaker(self.max_drain, self.max_share)


def backend(
    kind: Scheduler,
    slurm_conf: Path | None = None,
    kubeconfig: Path | None = None,
    target_env: Mapping[str, str] | None = None,
) -> Backend:
    """The scheduler's backend, its client pointed at the given configuration (an option
    wins over the target's: the lab's target names its slurm.conf)."""
    from aictl.sched.backend import Runner
    from aictl.sched.backend import backend as make

    env = dict(target_env or {})
    if slurm_conf is not None:
        env["SLURM_CONF"] = str(slurm_conf.absolute())
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig.absolute())
    return make(kind, Runner(env))


def breaker(max_drain: int, max_share: float) -> Breaker:
    from aictl.sched.breaker import Breaker

    return Breaker(max_drain, max_share)


def command_line(name: str, *args: str, **opts: object) -> str:
    """The aictl command that acts, for the actions log: its name, arguments and the options
    that shape the action (never paths to credentials, nothing from the environment)."""
    import shlex

    parts = ["aictl", name, *(shlex.quote(a) for a in args)]
    for key, value in opts.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        parts.append(flag if value is True else f"{flag} {shlex.quote(str(value))}")
    return " ".join(parts)[:300]


def show(outcome: Outcome) -> None:
    """One line per action: node, what was done, why."""
    from aictl import ui

    for a in outcome.actions:
        verb = {"drain": "drained", "undrain": "returned", "kept": "kept", "refused": "refused"}
        ui.say(f"[bold]{a.node}[/bold] {verb[a.kind.value]} ({a.scheduler}): {a.reason}")
        if a.message:
            ui.say(f"  {a.message}")


def drain_failing(
    reasons: Mapping[str, str],
    *,
    fleet: int,
    build: Path,
    sched: SchedArgs,
    command: str,
    run: str = "",
    target_env: Mapping[str, str] | None = None,
) -> Outcome:
    """`--drain` on check and accept: the failing nodes drained, each with its reason."""
    from aictl.sched import service
    from aictl.sched.actions import ActionLog

    outcome = service.drain(
        sched.backend(target_env),
        reasons,
        fleet=fleet,
        log=ActionLog(build),
        command=command,
        breaker=sched.breaker(),
        force=sched.force,
        run=run,
    )
    show(outcome)
    return outcome
