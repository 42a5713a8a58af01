"""GraphML of the fabric: devices as nodes, cables as edges (parallel edges kept).

Written as text (not through networkx) so a 16K-GPU plan stays well inside its time budget;
tests read it back with networkx as the oracle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import quoteattr

if TYPE_CHECKING:
    from aictl.topology.model import Topology

_KEYS = (
    ("d_role", "node", "role", "string"),
    ("d_su", "node", "su", "int"),
    ("d_rail", "node", "rail", "int"),
    ("d_plane", "node", "plane", "int"),
    ("e_id", "edge", "cable", "string"),
    ("e_tier", "edge", "tier", "string"),
    ("e_aport", "edge", "a_port", "string"),
    ("e_bport", "edge", "b_port", "string"),
    ("e_gbps", "edge", "gbps", "int"),
)


def render(topo: Topology) -> str:
    """topology.graphml text."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
    ]
    out += [f'  <key id="{k}" for="{f}" attr.name="{n}" attr.type="{t}"/>' for k, f, n, t in _KEYS]
    out.append(f'  <graph id={quoteattr(topo.name)} edgedefault="undirected">')

    def node(name: str, role: str, su: int, rail: int, plane: int) -> None:
        out.append(
            f'    <node id={quoteattr(name)}><data key="d_role">{role}</data>'
            f'<data key="d_su">{su}</data><data key="d_rail">{rail}</data>'
            f'<data key="d_plane">{plane}</data></node>'
        )

    for n in topo.nodes:
        node(n.name, "node", n.su, -1, -1)
    for r in topo.reserved:
        node(r.name, "reserved", r.su, -1, -1)
    for s in topo.switches:
        node(s.name, s.role, s.su, s.rail, s.plane)
    quoted: dict[str, str] = {}
    for c in topo.cables:
        a = quoted.get(c.a_device) or quoted.setdefault(c.a_device, quoteattr(c.a_device))
        b = quoted.get(c.b_device) or quoted.setdefault(c.b_device, quoteattr(c.b_device))
        out.append(
            f"    <edge source={a} target={b}>"
            f'<data key="e_id">{c.id}</data><data key="e_tier">{c.tier}</data>'
            f'<data key="e_aport">{c.a_port}</data><data key="e_bport">{c.b_port}</data>'
            f'<data key="e_gbps">{c.gbps}</data></edge>'
        )
    out += ["  </graph>", "</graphml>"]
    return "\n".join(out) + "\n"
