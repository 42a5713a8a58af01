"""Parse `ibnetdiscover` output (the default format or `-p`) into nodes and links.

Default format: records `Switch|Ca|Hca|Rt <ports> "<id>" # "<description>" ...` followed by
port lines `[p] "<remote id>"[rp](<remote port guid>) # "<remote description>" lid N 4xHDR` on
switches and `[p](<port guid>) "<remote id>"[rp] # lid N lmc 0 "<remote description>" lid M
4xHDR` on HCAs. `-p` (ports listing): one line per linked port, `CA|SW <lid> <port> 0x<guid>
<width> <speed> - CA|SW <lid> <port> 0x<guid> ( '<description>' - '<description>' )`. Every
cable appears from both ends; links are keyed by node id (the GUID), never by description:
real fabrics give many switches one description. `ibwarn`/`iberror` lines (SMP timeouts on
part of the fabric) are kept as warnings: what was discovered still counts.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_simulated

_HEAD = re.compile(
    r'^(Switch|Ca|Hca|Rt)\s+(\d+)\s+"([SHR]-[0-9a-fA-F]+)"\s*(?:#\s*"([^"]*)"(.*))?$'
)
# `[p](guid)` on an HCA; CA-to-CA cables (no switch) print a space before the far `(guid)`
_PORT = re.compile(
    r'^\[(\d+)\]\s*(?:\(([0-9a-fA-F]+)\))?\s+"([SHR]-[0-9a-fA-F]+)"\[(\d+)\]'
    r"\s*(?:\(([0-9a-fA-F]+)\))?\s*(?:#\s*(.*))?$"
)
_RATE = re.compile(r"(\d+)x([A-Z]+\d*)\s*$")
_LID = re.compile(r"\blid (\d+)")
_PORTS = re.compile(
    r"^(CA|SW|RT)\s+(\d+)\s+(\d+)\s+0x([0-9a-fA-F]+)\s+(\d+)x\s*([A-Z]+\d*)\s*-\s*"
    r"(CA|SW|RT)\s+(\d+)\s+(\d+)\s+0x([0-9a-fA-F]+)\s*\(\s*'(.*?)'\s*-\s*'(.*?)'\s*\)"
)
# infiniband-diags' warnings (`ibwarn: [pid] fn: ...`) and libibnetdisc's (`src/x.c:N; ...`)
_WARN = re.compile(r"^(ibwarn|iberror|ibnetdiscover|ibpanic)\b.*:|^\S*\.c:\d+[;:]")
# `-p`: a port with no cable (its width and speed are the port's, nothing is on the far end)
_PORT_DOWN = re.compile(
    r"^(CA|SW|RT)\s+(\d+)\s+(\d+)\s+0x([0-9a-fA-F]+)\s+(\d+)x\s*([A-Z]+\d*)\s+'(.*)'\s*$"
)


@dataclass(slots=True)
class IbNode:
    """A switch or HCA as discovered."""

    id: str
    kind: str  # switch | ca
    ports: int
    description: str
    lid: int | None = None
    links: dict[int, tuple[str, int, str]] = field(default_factory=dict)  # port -> (id, port, rate)
    # an HCA's port GUIDs (a node-name map may name it by those rather than its node GUID)
    port_guids: set[str] = field(default_factory=set)

    @property
    def guid(self) -> str:
        return self.id.split("-", 1)[1].lower()


@dataclass(slots=True)
class IbFabric:
    """Everything one ibnetdiscover run saw."""

    nodes: dict[str, IbNode]
    simulated: bool
    unparsed: list[str]
    warnings: list[str] = field(default_factory=list)


def _node_id(kind: str, guid: str) -> str:
    return f"{'S' if kind == 'SW' else 'R' if kind == 'RT' else 'H'}-{guid.lower().rjust(16, '0')}"


def _parse_ports_listing(text: str) -> IbFabric:
    """`ibnetdiscover -p`: each line a linked port, from its own end."""
    nodes: dict[str, IbNode] = {}
    unparsed: list[str] = []
    warnings: list[str] = []
    for raw in text.splitlines():
        ln = raw.strip()
        if not ln or ln.startswith("#"):
            continue
        m = _PORTS.match(ln)
        if m is None:
            if (d := _PORT_DOWN.match(ln)) is not None:
                nid = _node_id(d.group(1), d.group(4))
                node = nodes.setdefault(
                    nid, IbNode(nid, "switch" if d.group(1) == "SW" else "ca", 0, d.group(7))
                )
                node.ports = max(node.ports, int(d.group(3)))
                continue
            (warnings if _WARN.match(ln) else unparsed).append(ln)
            continue
        a_kind, a_lid, a_port, a_guid, width, speed = m.group(1, 2, 3, 4, 5, 6)
        b_kind, b_lid, b_port, b_guid, a_desc, b_desc = m.group(7, 8, 9, 10, 11, 12)
        for kind, lid, guid, desc in (
            (a_kind, a_lid, a_guid, a_desc),
            (b_kind, b_lid, b_guid, b_desc),
        ):
            nid = _node_id(kind, guid)
            if nid not in nodes:
                node = IbNode(nid, "switch" if kind == "SW" else "ca", 0, desc or nid)
                node.lid = int(lid)
                nodes[nid] = node
        a = nodes[_node_id(a_kind, a_guid)]
        a.links[int(a_port)] = (_node_id(b_kind, b_guid), int(b_port), f"{width}x{speed}")
        a.ports = max(a.ports, int(a_port))
    return IbFabric(nodes, is_simulated(text), unparsed[:50], warnings[:50])


def parse_ibnetdiscover(text: str) -> IbFabric:
    """Nodes by id; each link once per end; unreadable lines kept in `unparsed`."""
    if any(_PORTS.match(ln.strip()) for ln in text.splitlines()[:50]):
        return _parse_ports_listing(text)
    nodes: dict[str, IbNode] = {}
    cur: IbNode | None = None
    unparsed: list[str] = []
    warnings: list[str] = []
    ca_lids: dict[str, int] = {}
    far_ports: dict[str, set[str]] = {}
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
            if m.group(2):  # this HCA's own port GUID
                cur.port_guids.add(m.group(2).lower().rjust(16, "0"))
            if m.group(5):  # the far HCA's port GUID
                far_ports.setdefault(m.group(3), set()).add(m.group(5).lower().rjust(16, "0"))
            lids = _LID.findall(comment)
            if cur.kind == "ca" and lids:
                cur.lid = int(lids[0])
            elif cur.kind == "switch" and m.group(3).startswith("H-") and lids:
                ca_lids[m.group(3)] = int(lids[0])
            continue
        (warnings if _WARN.match(ln) else unparsed).append(ln)
    for nid, lid in ca_lids.items():
        if nid in nodes and nodes[nid].lid is None:
            nodes[nid].lid = lid
    for nid, guids in far_ports.items():
        if nid in nodes:
            nodes[nid].port_guids |= guids
    return IbFabric(nodes, is_simulated(text), unparsed[:50], warnings[:50])


@dataclass(frozen=True, kw_only=True)
class IbnetSummary(Parsed):
    """`aictl accept parse --tool ibnetdiscover`: what the discovery saw, in numbers."""

    switches: int = 0
    cas: int = 0
    links: int = 0
    # the same description on several devices: cables between them need GUIDs to tell apart
    shared_descriptions: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    unparsed: tuple[str, ...] = ()


def summary(fab: IbFabric) -> IbnetSummary:
    """The fabric in numbers (cables counted once, from both ends)."""
    links = {
        tuple(sorted([(n.id, p), (r, rp)]))
        for n in fab.nodes.values()
        for p, (r, rp, _) in n.links.items()
    }
    # nothing discovered: the tool's own last word says why (`discover failed`, no MAD port)
    errors = (
        []
        if fab.nodes
        else [f"no nodes found: {fab.warnings[-1]}" if fab.warnings else "no nodes found"]
    )
    descs = Counter(n.description for n in fab.nodes.values())
    return IbnetSummary(
        **head("ibnetdiscover", fab.simulated, errors),
        switches=sum(1 for n in fab.nodes.values() if n.kind == "switch"),
        cas=sum(1 for n in fab.nodes.values() if n.kind == "ca"),
        links=len(links),
        shared_descriptions={d: c for d, c in sorted(descs.items()) if c > 1},
        warnings=tuple(fab.warnings),
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
    """A node-name map (opensm, ibnetdiscover, rdma-core's format) -> guid (16 hex) -> name:
    `0x<guid> "name"` per line, the name quoted (a trailing `# comment` allowed) or the rest
    of the line; `#` starts a comment line; GUIDs in any case."""
    out = {}
    for ln in text.splitlines():
        m = re.match(
            r'^\s*(?:0x)?([0-9a-fA-F]{1,16})\s+(?:"([^"]+)"|([^"#\s][^#]*?))\s*(?:#.*)?$', ln
        )
        if m:
            out[m.group(1).lower().rjust(16, "0")] = (m.group(2) or m.group(3)).strip()
    return out
