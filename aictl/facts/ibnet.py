"""Parse `ibnetdiscover` output (default format) into nodes and links.

Records are `Switch|Ca|Hca|Rt <ports> "<id>" # "<description>" ...` followed by port lines:
`[p] "<remote id>"[rp](<remote port guid>) # "<remote description>" lid N 4xHDR` on switches
and `[p](<port guid>) "<remote id>"[rp] # lid N lmc 0 "<remote description>" lid M 4xHDR` on
HCAs. Every cable appears from both ends; links are keyed by both endpoints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_simulated

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


@dataclass(frozen=True, kw_only=True)
class IbnetSummary(Parsed):
    """`aictl accept parse --tool ibnetdiscover`: what the discovery saw, in numbers."""

    switches: int = 0
    cas: int = 0
    links: int = 0
    unparsed: tuple[str, ...] = ()


def summary(fab: IbFabric) -> IbnetSummary:
    """The fabric in numbers (cables counted once, from both ends)."""
    links = {
        tuple(sorted([(n.id, p), (r, rp)]))
        for n in fab.nodes.values()
        for p, (r, rp, _) in n.links.items()
    }
    errors = [] if fab.nodes else ["no nodes found"]
    return IbnetSummary(
        **head("ibnetdiscover", fab.simulated, errors),
        switches=sum(1 for n in fab.nodes.values() if n.kind == "switch"),
        cas=sum(1 for n in fab.nodes.values() if n.kind == "ca"),
        links=len(links),
        unparsed=tuple(fab.unparsed),
    )


def parse_summary(text: str) -> IbnetSummary:
    return summary(parse_ibnetdiscover(text))


_LFT_HEAD = re.compile(r"^Unicast lids .* guid 0x([0-9a-fA-F]+) \((.*)\):\s*$")
_LFT_ROW = re.compile(r"^0x([0-9a-fA-F]+)\s+(\d+)\s*:")


@dataclass(frozen=True, kw_only=True)
class ForwardingTables(Parsed):
    """`dump_fts`/`dump_lfts`/`ibroute`: switch GUID (16 hex) -> {destination LID: port}."""

    tables: dict[str, dict[int, int]] = field(default_factory=dict)


def parse_lfts(text: str) -> ForwardingTables:
    """Per switch, `Unicast lids [..] of switch ... guid 0x.. (<name>):` then rows
    `0x0014 001 : (Channel Adapter portguid 0x..: 'node05 mlx5_3')`."""
    out: dict[str, dict[int, int]] = {}
    cur: dict[int, int] | None = None
    for ln in text.splitlines():
        m = _LFT_HEAD.match(ln.strip())
        if m:
            cur = out.setdefault(m.group(1).lower().rjust(16, "0"), {})
            continue
        m = _LFT_ROW.match(ln.strip())
        if m and cur is not None:
            cur[int(m.group(1), 16)] = int(m.group(2))
    return ForwardingTables(**head("dump_fts", is_simulated(text), [], empty=not out), tables=out)


@dataclass(frozen=True, kw_only=True)
class OpensmLog(Parsed):
    """What the opensm log says about routing: the engine it last used and its errors."""

    engine: str | None = None
    routing_errors: tuple[str, ...] = ()


def parse_opensm_log(text: str) -> OpensmLog:
    """`<engine> tables configured on all switches` (as opensm logs it), routing failures."""
    engine = None
    errors = []
    for ln in text.splitlines():
        m = re.search(r"(\S+) tables configured on all switches", ln)
        if m:
            engine = m.group(1)
        if "No routing engine able" in ln or re.search(r"ucast_mgr_route: .*failed", ln):
            errors.append(ln.strip())
    return OpensmLog(
        **head("opensm-log", is_simulated(text), [], empty=engine is None and not errors),
        engine=engine,
        routing_errors=tuple(errors),
    )


def parse_node_name_map(text: str) -> dict[str, str]:
    """`0x<guid> "name"` lines (opensm/ibnetdiscover node-name-map) -> guid (16 hex) -> name."""
    out = {}
    for ln in text.splitlines():
        m = re.match(r'^\s*(0x)?([0-9a-fA-F]{1,16})\s+"([^"]+)"', ln)
        if m:
            out[m.group(2).lower().rjust(16, "0")] = m.group(3)
    return out
