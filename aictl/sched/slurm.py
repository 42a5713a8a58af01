"""Slurm through its own clients: `sinfo` reads node states and reasons, `scontrol update`
drains (State=DRAIN Reason=...) and resumes (State=RESUME).

`sinfo -N -h -o '%N|%T|%E'` prints one line per node: its name, the long state (`idle`,
`drained`, `draining`, `down*`, `mixed`, ...) and the reason, which is free text and comes
last so that a `|` inside it is kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aictl.sched.model import NodeState, Scheduler

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aictl.sched.backend import Runner

# long state names (sinfo %T) that mean the node takes no new work because of a drain
_DRAINED = ("drain", "drained", "draining", "drng")


def parse_sinfo(text: str) -> dict[str, NodeState]:
    """`sinfo -N -h -o '%N|%T|%E'` -> node -> state (a node listed twice, once per
    partition, is one node)."""
    out: dict[str, NodeState] = {}
    for ln in text.splitlines():
        parts = ln.split("|", 2)
        if len(parts) != 3 or not parts[0].strip():
            continue
        node, state, reason = (p.strip() for p in parts)
        base = state.rstrip("*~#!%$@^-").lower()
        flags = base.split("+")
        drained = any(f in _DRAINED for f in flags)
        out[node] = NodeState(node, drained, "" if reason == "none" else reason, state)
    return out


class SlurmBackend:
    kind = Scheduler.slurm

    def __init__(self, runner: Runner) -> None:
        self.run = runner

    def states(self, nodes: Sequence[str] | None = None) -> dict[str, NodeState]:
        argv = ["sinfo", "-N", "-h", "-o", "%N|%T|%E"]
        if nodes:
            argv += ["-n", ",".join(nodes)]
        return parse_sinfo(self.run.ok(argv))

    def drain(self, node: str, reason: str) -> None:
        self.run.ok(["scontrol", "update", f"NodeName={node}", "State=DRAIN", f"Reason={reason}"])

    def undrain(self, node: str) -> None:
        self.run.ok(["scontrol", "update", f"NodeName={node}", "State=RESUME"])
