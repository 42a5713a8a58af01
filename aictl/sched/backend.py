"""One interface for every scheduler, and the runner the backends call their client through.

The runner is a seam: production runs the scheduler's client (scontrol, sinfo, kubectl) as a
subprocess without a shell; tests run a recording double of that client the same way.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aictl.errors import SchedulerError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aictl.sched.model import NodeState, Scheduler


@dataclass(frozen=True, slots=True)
class Completed:
    rc: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Runner:
    """Runs a client command (argv, no shell) with `env` added to the environment."""

    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 60.0

    def __call__(self, argv: Sequence[str]) -> Completed:
        try:
            p = subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env={**os.environ, **self.env},
                check=False,
            )
        except FileNotFoundError:
            raise SchedulerError(
                f"{argv[0]}: not found on PATH",
                hint="run aictl where the scheduler's client is installed, or pick another "
                "--scheduler",
            ) from None
        except subprocess.TimeoutExpired:
            raise SchedulerError(
                f"{argv[0]} did not answer within {self.timeout:.0f} s",
                hint="is the scheduler's controller up?",
            ) from None
        return Completed(p.returncode, p.stdout, p.stderr)

    def ok(self, argv: Sequence[str]) -> str:
        """stdout of a command that must succeed; its own error line otherwise."""
        res = self(argv)
        if res.rc != 0:
            said = (res.stderr.strip() or res.stdout.strip() or f"exit {res.rc}").splitlines()
            raise SchedulerError(
                f"{' '.join(argv[:3])}: {said[-1] if said else res.rc}",
                hint="the scheduler refused the request: its own message is above",
            )
        return res.stdout


class Backend(Protocol):
    kind: Scheduler

    def states(self, nodes: Sequence[str] | None = None) -> dict[str, NodeState]:
        """The nodes' states (None: every node the scheduler knows)."""
        ...

    def drain(self, node: str, reason: str) -> None: ...

    def undrain(self, node: str) -> None: ...


def backend(kind: Scheduler, runner: Runner) -> Backend:
    from aictl.sched.model import Scheduler

    if kind is Scheduler.slurm:
        from aictl.sched.slurm import SlurmBackend

        return SlurmBackend(runner)
    from aictl.sched.k8s import KubeBackend

    return KubeBackend(runner)
