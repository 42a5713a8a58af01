"""InfiniBand port counters: `ibqueryerrors` (every port of the fabric over its threshold, from
the subnet manager's host) and `perfquery [-x]` (one port, every counter), in one shape.

ibqueryerrors prints `Errors for [0x<guid> ]"<node description>"`, then per port
`GUID 0x<guid> port <n>: [SymbolErrorCounter == 500] [LinkDownedCounter == 3]`; a switch also
gets a `port ALL` line (the sum, skipped here), and the run ends with a `## Summary` of nodes
and ports checked. perfquery prints `# Port [extended ]counters: Lid <lid> port <n>` and
`Name:....value` lines. `ibwarn:` lines (libibmad, the simulator) are kept as warnings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_simulated, lines_of

_NODE = re.compile(r'^Errors for (?:(0x[0-9A-Fa-f]+) )?"(.*)"\s*$')
_PORT = re.compile(r"^\s*GUID (0x[0-9A-Fa-f]+) port (\d+|ALL):\s*(.*)$")
_COUNTER = re.compile(r"\[(\w+) == (\d+)\]")
_SUMMARY = re.compile(r"^## Summary: (\d+) nodes checked, (\d+) bad nodes")
_PORTS = re.compile(r"^##\s+(\d+) ports checked, (\d+) ports have errors")
_PQ_HEAD = re.compile(r"^# Port (extended )?counters: Lid (\d+) port (\d+)")
_PQ_LINE = re.compile(r"^(\w+):\.+(0x[0-9A-Fa-f]+|\d+)\s*$")


@dataclass(frozen=True, slots=True)
class PortCounters:
    """One port's counters (only the ones the tool printed)."""

    guid: str  # the node GUID as printed (without leading zeros), "" when unknown
    description: str
    port: int
    counters: dict[str, int]
    lid: int | None = None


@dataclass(frozen=True, kw_only=True)
class IbCounters(Parsed):
    """Port counters of some or all ports of a fabric."""

    ports: tuple[PortCounters, ...] = ()
    nodes_checked: int | None = None
    ports_checked: int | None = None
    warnings: tuple[str, ...] = ()


def norm_guid(guid: str) -> str:
    """0x2c90000000001 and 0x0002c90000000001 are one GUID."""
    try:
        return f"0x{int(guid, 16):016x}"
    except ValueError:
        return guid.lower()


def parse_ibqueryerrors(text: str) -> IbCounters:
    """`ibqueryerrors [--details] [--data]` -> every reported port with its counters."""
    ports: list[PortCounters] = []
    warnings: list[str] = []
    desc, nodes, checked = "", None, None
    for ln in lines_of(text):
        if ln.startswith("ibwarn:") or ln.startswith("ibpanic:"):
            warnings.append(ln.strip())
            continue
        m = _NODE.match(ln)
        if m:
            desc = m.group(2)
            continue
        m = _PORT.match(ln)
        if m and m.group(2) != "ALL":
            counters = {k: int(v) for k, v in _COUNTER.findall(m.group(3))}
            ports.append(PortCounters(norm_guid(m.group(1)), desc, int(m.group(2)), counters))
            continue
        m = _SUMMARY.match(ln)
        if m:
            nodes = int(m.group(1))
            continue
        m = _PORTS.match(ln)
        if m:
            checked = int(m.group(1))
    panic = [w for w in warnings if w.startswith("ibpanic")]
    return IbCounters(
        **head("ibqueryerrors", is_simulated(text), panic[:1], empty=nodes is None and not ports),
        ports=tuple(ports),
        nodes_checked=nodes,
        ports_checked=checked,
        warnings=tuple(warnings[:20]),
    )


def parse_perfquery(text: str) -> IbCounters:
    """`perfquery [-x] <lid> <port>` (one block per port) -> each port's counters."""
    blocks: list[tuple[int, int, dict[str, int]]] = []
    warnings: list[str] = []
    for ln in lines_of(text):
        if ln.startswith(("ibwarn:", "ibpanic:")):
            warnings.append(ln.strip())
            continue
        m = _PQ_HEAD.match(ln)
        if m:
            blocks.append((int(m.group(2)), int(m.group(3)), {}))
            continue
        m = _PQ_LINE.match(ln.strip())
        if m and blocks and m.group(1) not in ("PortSelect", "CounterSelect", "CounterSelect2"):
            blocks[-1][2][m.group(1)] = int(m.group(2), 0)
    panic = [w for w in warnings if w.startswith("ibpanic")]
    return IbCounters(
        **head("perfquery", is_simulated(text), panic[:1], empty=not blocks),
        ports=tuple(PortCounters("", "", port, c, lid) for lid, port, c in blocks),
        warnings=tuple(warnings[:20]),
    )
