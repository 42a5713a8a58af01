"""One progress event for everything that runs on many nodes: SSH fan-out, provisioning and
acceptance. Library code emits them to an optional callback; only the CLI prints them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from aictl.status import Status


@dataclass(frozen=True, slots=True)
class Progress:
    """Something finished (or started) on the way through a run."""

    stage: str  # remote | provision | accept
    event: str  # host | play | task | unit | planned
    item: str  # the host, the play or task, the unit id
    done: int = 0
    total: int = 0
    status: Status | None = None
    message: str = ""
    # a measured value in words ("183.2 Gb/s"), when there is one
    value: str = ""


def emit(callback: Callable[[Progress], None] | None, event: Progress) -> None:
    """Send `event` when someone listens."""
    if callback is not None:
        callback(event)
