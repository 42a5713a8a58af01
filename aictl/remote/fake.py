"""A fake executor for tests and models: canned answers per (host, command), no SSH.

A responder turns (host, command) into a `Reply`; hosts can be killed mid-run (their later
commands come back as a lost session, like a node that died). Every call is recorded.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aictl.events import Progress, emit
from aictl.natsort import natural_key
from aictl.remote import HostResult
from aictl.status import Status

if TYPE_CHECKING:
    from collections.abc import Callable

    from aictl.remote import Target


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command printed and its exit status."""

    stdout: str = ""
    rc: int = 0
    stderr: str = ""


class FakeExecutor:
    """Runs nothing: `respond(host, command)` says what each command prints."""

    def __init__(
        self, respond: Callable[[str, str], Reply], *, forks: int = 64, dead: set[str] | None = None
    ) -> None:
        self.respond = respond
        self.forks = forks
        self.dead: set[str] = set(dead or ())
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def kill(self, host: str) -> None:
        """From now on `host` is gone: its sessions die without an exit status."""
        with self._lock:
            self.dead.add(host)

    def run(self, target: Target, command: str, *, timeout: float | None = None) -> HostResult:
        with self._lock:
            self.calls.append((target.name, command))
            dead = target.name in self.dead
        if dead:
            return HostResult(target.name, target.address, None, error="unreachable: no route")
        reply = self.respond(target.name, command)
        with self._lock:  # a responder may kill a host (a node dying mid-test)
            dead = target.name in self.dead
        if dead:
            return HostResult(target.name, target.address, -1, reply.stdout[:40])
        return HostResult(target.name, target.address, reply.rc, reply.stdout, reply.stderr)

    def run_all(
        self,
        targets: list[Target],
        command: str,
        *,
        progress: Callable[[Progress], None] | None = None,
    ) -> list[HostResult]:
        out: list[HostResult] = []
        with ThreadPoolExecutor(max_workers=max(1, min(self.forks, len(targets) or 1))) as pool:
            for res in pool.map(lambda t: self.run(t, command), targets):
                out.append(res)
                status = Status.OK if res.ok else Status.FAIL
                emit(progress, Progress("remote", "host", res.host, len(out), len(targets), status))
        return sorted(out, key=lambda r: natural_key(r.host))
