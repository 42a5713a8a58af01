"""The seam between orchestration and SSH: what preflight, acceptance and verify call to run
commands on nodes.

`SshExecutor` is the real one (paramiko, aictl/remote/__init__.py); `FakeExecutor`
(aictl/remote/fake.py) answers from a script of canned outputs so orchestration — waves, dead
nodes, resume, confirmation rounds, fan-out — is tested without root, sshd or the lab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aictl.events import Progress, emit

if TYPE_CHECKING:
    from collections.abc import Callable

    from aictl.remote import HostResult, SshOptions, Target


class Executor(Protocol):
    """Runs shell commands on nodes; every failure is part of the result, never raised."""

    def run(self, target: Target, command: str, *, timeout: float | None = None) -> HostResult:
        """`command` on one node."""
        ...

    def run_all(
        self,
        targets: list[Target],
        command: str,
        *,
        progress: Callable[[Progress], None] | None = None,
    ) -> list[HostResult]:
        """`command` on every node (bounded concurrency), results in natural host order."""
        ...


class SshExecutor:
    """Commands over SSH with verified host keys (see aictl/remote)."""

    def __init__(self, opts: SshOptions) -> None:
        self.opts = opts

    def run(self, target: Target, command: str, *, timeout: float | None = None) -> HostResult:
        from dataclasses import replace

        from aictl.remote import run_one

        opts = self.opts if timeout is None else replace(self.opts, command_timeout=timeout)
        return run_one(target, command, opts)

    def run_all(
        self,
        targets: list[Target],
        command: str,
        *,
        progress: Callable[[Progress], None] | None = None,
    ) -> list[HostResult]:
        from aictl.remote import run_all
        from aictl.status import Status

        done = [0]

        def each(res: HostResult) -> None:
            done[0] += 1
            emit(
                progress,
                Progress(
                    "remote",
                    "host",
                    res.host,
                    done[0],
                    len(targets),
                    Status.OK if res.ok else Status.FAIL,
                    res.error,
                ),
            )

        return run_all(targets, command, self.opts, progress=each if progress else None)
