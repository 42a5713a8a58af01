"""Drain and undrain as one call each: read the scheduler, hold the breaker, act, log.

A node another hand drained keeps its reason (aictl neither overwrites nor lifts it); a node
aictl already holds for the same reason is kept as it is, so re-running a check with
`--drain` is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aictl.errors import SchedulerError
from aictl.sched.actions import Action, ActionLog, now
from aictl.sched.breaker import Breaker
from aictl.sched.model import ActionKind, NodeState

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aictl.sched.backend import Backend


@dataclass
class Outcome:
    """What one drain or undrain call did, node by node."""

    actions: list[Action] = field(default_factory=list)

    def of(self, kind: ActionKind) -> list[Action]:
        return [a for a in self.actions if a.kind is kind]


def _known(states: Mapping[str, NodeState], nodes: Sequence[str], backend: Backend) -> None:
    unknown = [n for n in nodes if n not in states]
    if unknown:
        raise SchedulerError(
            f"{backend.kind.value} does not know node(s) {', '.join(unknown)}",
            hint="the node names of the plan must be the scheduler's node names",
        )


def drain(
    backend: Backend,
    reasons: Mapping[str, str],
    *,
    fleet: int,
    log: ActionLog,
    command: str,
    breaker: Breaker | None = None,
    force: bool = False,
    run: str = "",
) -> Outcome:
    """Drain every node of `reasons` (node -> marked reason) within the breaker's limit."""
    states = backend.states(None)
    _known(states, list(reasons), backend)
    held = {n for n, s in states.items() if s.by_aictl}
    out = Outcome()

    def record(kind: ActionKind, node: str, reason: str, ok: bool = True, msg: str = "") -> None:
        a = Action(now(), kind, node, backend.kind.value, reason, command, ok, msg, run)
        log.add(a)
        out.actions.append(a)

    new: list[str] = []
    for node, reason in reasons.items():
        s = states[node]
        if s.drained and not s.by_aictl:
            record(ActionKind.kept, node, s.reason, msg="drained by another hand: left as is")
        elif s.by_aictl and s.reason == reason:
            record(ActionKind.kept, node, reason, msg="already drained by aictl for this reason")
        else:
            new.append(node)
    try:
        (breaker or Breaker()).admit(max(fleet, len(states)), held, new, force=force)
    except SchedulerError as exc:
        for node in new:
            record(ActionKind.refused, node, reasons[node], ok=False, msg=exc.message)
        raise
    for node in new:
        backend.drain(node, reasons[node])
        record(ActionKind.drain, node, reasons[node])
    return out


def undrain(
    backend: Backend,
    nodes: Sequence[str],
    *,
    log: ActionLog,
    command: str,
    failing: Mapping[str, str] | None = None,
    run: str = "",
) -> Outcome:
    """Return the nodes aictl drained; a node in `failing` (node -> why) stays drained."""
    states = backend.states(list(nodes))
    _known(states, nodes, backend)
    out = Outcome()
    for node in nodes:
        s = states[node]
        if not s.drained:
            continue
        if not s.by_aictl:
            a = Action(
                now(),
                ActionKind.refused,
                node,
                backend.kind.value,
                s.reason,
                command,
                False,
                "not drained by aictl: its reason is another hand's, left as is",
                run,
            )
        elif failing and node in failing:
            a = Action(
                now(),
                ActionKind.kept,
                node,
                backend.kind.value,
                s.reason,
                command,
                False,
                f"still failing: {failing[node]}",
                run,
            )
        else:
            backend.undrain(node)
            a = Action(
                now(), ActionKind.undrain, node, backend.kind.value, s.reason, command, run=run
            )
        log.add(a)
        out.actions.append(a)
    return out
