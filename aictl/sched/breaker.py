"""The circuit breaker: never take more than a small part of the fleet out at once.

A health check that is wrong for every node (a bad rollout, a fabric-wide event) would
otherwise drain the whole cluster in one interval. The limit is the smaller of a share and a
count of the fleet, and at least one node; nodes aictl already holds drained count against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aictl.errors import SchedulerError

MAX_NODES = 8
MAX_SHARE = 0.10


@dataclass(frozen=True, slots=True)
class Breaker:
    max_nodes: int = MAX_NODES
    max_share: float = MAX_SHARE

    def limit(self, fleet: int) -> int:
        """How many nodes of a `fleet` aictl may hold drained at once."""
        return max(1, min(self.max_nodes, math.floor(self.max_share * fleet + 1e-9)))

    def admit(self, fleet: int, held: set[str], new: list[str], *, force: bool = False) -> None:
        """Raise unless draining `new` keeps aictl's drained nodes within the limit."""
        total = held | set(new)
        cap = self.limit(fleet)
        if force or len(total) <= cap:
            return
        already = len(held - set(new))
        raise SchedulerError(
            f"circuit breaker: draining {len(set(new) - held)} node(s) would leave "
            f"{len(total)} of {fleet} drained by aictl ({already} already), over the limit of "
            f"{cap} ({self.max_share:.0%} of the fleet or {self.max_nodes} nodes, whichever "
            "is smaller)",
            hint="a fault on that many nodes at once is more often the check or the fabric "
            "than the nodes: look first; --force drains anyway, --max-drain/--max-drain-share "
            "move the limit",
        )
