"""The Ethernet side: LLDP neighbours of each bond member against the planned ToR ports
(the neighbours come from aictl/facts/lldp.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aictl.fabric import Finding
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from aictl.facts.lldp import Neighbour
    from aictl.topology.model import Topology


def check_lldp(topo: Topology, seen: dict[str, dict[str, Neighbour]]) -> dict[str, Any]:
    """Per host: each planned bond member must see its planned ToR and port over LLDP."""
    findings: list[Finding] = []
    checked = 0
    for node in topo.nodes:
        if node.name not in seen:
            continue
        members = topo.profile(node).bond.members
        got = seen[node.name]
        for member, (tor, port) in zip(members, node.tor_ports, strict=False):
            checked += 1
            nb = got.get(member)
            have = (nb.switch, nb.port) if nb is not None else None
            where = f"{node.name} {member}"
            if have is None:
                findings.append(
                    Finding(
                        "lldp-missing",
                        where,
                        f"{where}: no LLDP neighbour (planned {tor} {port})",
                        "check the cable and that lldpd runs on the host and LLDP on the ToR",
                    )
                )
            elif have != (tor, port):
                findings.append(
                    Finding(
                        "lldp-miswire",
                        where,
                        f"{where} is cabled to {have[0]} {have[1]}; the plan has {tor} {port}",
                        f"move the cable at {have[0]} {have[1]} to {tor} {port}",
                    )
                )
    findings.sort(key=lambda f: natural_key(f.where))
    return {
        "hosts": len(seen),
        "not_checked": [n.name for n in topo.nodes if n.name not in seen],
        "members_checked": checked,
        "findings": [f.as_dict() for f in findings],
        "ok": not findings,
    }
