"""What a drain is: which scheduler, the state a node is in, and aictl's mark on a reason.

A reason aictl sets starts with `MARK`; `undrain` returns only nodes whose reason carries it,
so a drain an operator set by hand is never lifted by aictl.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MARK = "aictl:"
# Slurm stores the reason as free text; a newline or control character would break sinfo's
# one-line output and the scheduler's own logs
_REASON_OK = re.compile(r"^[\x20-\x7e]{1,200}$")


class Scheduler(StrEnum):
    slurm = "slurm"
    k8s = "k8s"


class ActionKind(StrEnum):
    drain = "drain"
    undrain = "undrain"
    refused = "refused"
    kept = "kept"


@dataclass(frozen=True, slots=True)
class NodeState:
    """One node as its scheduler sees it."""

    node: str
    drained: bool
    reason: str = ""
    state: str = ""

    @property
    def by_aictl(self) -> bool:
        """Drained with a reason aictl set."""
        return self.drained and self.reason.startswith(MARK)


def reason_problem(text: str) -> str:
    """Why `text` cannot be a drain reason ('' when it can)."""
    if not _REASON_OK.fullmatch(text):
        return "1 to 200 printable ASCII characters on one line"
    return ""


def marked(text: str) -> str:
    """`text` with aictl's mark in front (once), cut to what a reason may hold."""
    body = text if text.startswith(MARK) else f"{MARK} {text}"
    clean = "".join(c if " " <= c <= "~" else " " for c in body)
    return " ".join(clean.split())[:200]


def check_reason(check: str, message: str) -> str:
    """The reason for a node that failed `check`: the check first, then what it said."""
    return marked(f"{check}: {message}" if message else check)
