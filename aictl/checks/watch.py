"""`aictl check --watch`: preflight again and again, and only what changed.

A transition is one node's check going from one status to another (`node03 xid ok -> fail`).
The first round reports every result that is not `ok` (from nothing); later rounds report
only changes, so an operator's terminal or a log shows faults as they come and go.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from aictl.checks.preflight import PreflightReport


@dataclass(frozen=True, slots=True)
class Transition:
    """One node's check changing status (`old` is "" in the first round)."""

    node: str
    check: str
    old: str
    new: str
    message: str
    fix: str = ""


def transitions(before: PreflightReport | None, after: PreflightReport) -> list[Transition]:
    """What changed from `before` to `after` (everything not ok when there is no before)."""
    old = (
        {(n, r.check): r.status.value for n, row in before.rows.items() for r in row}
        if before is not None
        else {}
    )
    out = []
    for node, row in after.rows.items():
        for r in row:
            was = old.get((node, r.check), "")
            if (before is None and r.status.value == "ok") or was == r.status.value:
                continue
            out.append(Transition(node, r.check, was, r.status.value, r.message, r.fix))
    return out


def watch(
    run_once: Callable[[], PreflightReport],
    every: float,
    on_round: Callable[[int, PreflightReport, list[Transition]], None],
    *,
    rounds: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PreflightReport:
    """Run `run_once` every `every` seconds (`rounds` times, or until interrupted), calling
    `on_round` with each round's transitions; returns the last report."""
    last: PreflightReport | None = None
    n = 0
    while True:
        report = run_once()
        n += 1
        on_round(n, report, transitions(last, report))
        last = report
        if rounds is not None and n >= rounds:
            return report
        sleep(every)
