"""The fabric room: what was discovered against what was planned.

`ibnet.py` parses ibnetdiscover output, `diff.py` compares it with the plan's cables and says
how to fix each difference in installer words, `routing.py` checks the forwarding tables the
subnet manager programmed (LFT dumps) and its log, `lldp.py` checks the Ethernet bond cabling
from LLDP neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Finding:
    """One difference between the fabric and the plan, with the fix."""

    kind: str
    where: str
    message: str
    fix: str = ""
    severity: str = "error"
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "where": self.where,
            "message": self.message,
            "fix": self.fix,
            **({"detail": self.detail} if self.detail else {}),
        }
