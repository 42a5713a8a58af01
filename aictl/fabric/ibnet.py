"""Parse `ibnetdiscover` output (default format) into nodes and links.

Records are `Switch|Ca|Hca|Rt <ports> "<id>" # "<description>" ...` followed by port lines:
`[p] "<remote id>"[rp](<remote port guid>) # "<remote description>" lid N 4xHDR` on switches
and `[p](<port guid>) "<remote id>"[rp] # lid N lmc 0 "<remote description>" lid M 4xHDR` on
HCAs. Every cable appears from both ends; links are keyed by both endpoints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aictl.checks._text import is_simulated

_HEAD = re.compile(
    r'^(Switch|Ca|Hca|Rt)\s+(\d+)\s+"([SHR]-[0-9a-fA-F]+)"\s*(?:#\s*"([^"]*)"(.*))?$'
)
_PORT = re.compile(
    r'^\[(\d+)\](?:\(([0-9a-fA-F]+)\))?\s+"([SHR]-[0-9a-fA-F]+)"\[(\d+)\]'
    r"(?:\(([0-9a-fA-F]+)\))?\s*(?:#\s*(.*))?$"
)
_RATE = re.compile(r"(\d+)x([A-Z]+\d*)\s*$")
_LID = re.compile(r"\blid (\d+)")


@dataclass(slots=True)
class IbNode:
    """A switch or HCA as discovered."""

    id: str
    kind: str  # switch | ca
    ports: int
    description: str
    lid: int | None = None
    links: dict[int, tuple[str, int, str]] = field(default_factory=dict)  # port -> (id, port, rate)

    @property
    def guid(self) -> str:
        return self.id.split("-", 1)[1].lower()


@dataclass(slots=True)
class IbFabric:
    """Everything one ibnetdiscover run saw."""

    nodes: dict[str, IbNode]
    simulated: bool
    unparsed: list[str]


def parse_ibnetdiscover(text: str) -> IbFabric:
    """Nodes by id; each link once per end; unreadable lines kept in `unparsed`."""
    nodes: dict[str, IbNode] = {}
    cur: IbNode | None = None
    unparsed: list[str] = []
    ca_lids: dict[str, int] = {}
    for raw in text.splitlines():
        ln = raw.strip()
        if (
            not ln
            or ln.startswith("#")
            or re.match(r"^(vendid|devid|sysimgguid|switchguid|caguid|rtguid)=", ln)
        ):
            continue
        m = _HEAD.match(ln)
        if m:
            kind = "switch" if m.group(1) == "Switch" else "ca"
            rest = m.group(5) or ""
            lid_m = _LID.search(rest)
            cur = IbNode(m.group(3), kind, int(m.group(2)), m.group(4) or m.group(3))
            cur.lid = int(lid_m.group(1)) if lid_m else None
            nodes[cur.id] = cur
            continue
        m = _PORT.match(ln)
        if m and cur is not None:
            comment = m.group(6) or ""
            rate = _RATE.search(comment)
            cur.links[int(m.group(1))] = (
                m.group(3),
                int(m.group(4)),
                rate.group(0) if rate else "",
            )
            lids = _LID.findall(comment)
            if cur.kind == "ca" and lids:
                cur.lid = int(lids[0])
            elif cur.kind == "switch" and m.group(3).startswith("H-") and lids:
                ca_lids[m.group(3)] = int(lids[0])
            continue
        unparsed.append(ln)
    for nid, lid in ca_lids.items():
        if nid in nodes and nodes[nid].lid is None:
            nodes[nid].lid = lid
    return IbFabric(nodes, is_simulated(text), unparsed[:50])


def summary(fab: IbFabric) -> dict[str, object]:
    """The `accept parse --tool ibnetdiscover` JSON."""
    links = {
        tuple(sorted([(n.description, p), (fab.nodes[r].description if r in fab.nodes else r, rp)]))
        for n in fab.nodes.values()
        for p, (r, rp, _) in n.links.items()
    }
    return {
        "tool": "ibnetdiscover",
        "status": "ok" if fab.nodes else "failed",
        "failure": None if fab.nodes else {"kind": "tool", "message": "no nodes found"},
        "simulated": fab.simulated,
        "switches": sum(1 for n in fab.nodes.values() if n.kind == "switch"),
        "cas": sum(1 for n in fab.nodes.values() if n.kind == "ca"),
        "links": len(links),
        "unparsed": fab.unparsed,
    }
