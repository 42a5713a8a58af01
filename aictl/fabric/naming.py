"""Which planned device each discovered one is: by GUID where that is known, else by the node
description it reports.

Real fabrics often carry one description on many switches (the vendor default, or one name
per model), and an HCA whose host never set its node description reports the adapter's model.
A cable is then identifiable only by GUID and port. So names come, in this order, from a
node-name map (GUID -> name, the opensm/ibnetdiscover format), from the plan's own GUIDs when
the fabric was built to them (`subnet_manager.guids: planned`, as the lab's twin is), and only
then from the description. Two devices that end with one name cannot be told apart: that is
said plainly, and nothing is compared on top of it.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from aictl.fabric import Finding
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from aictl.facts.ibnet import IbFabric
    from aictl.topology.model import Topology


def device_names(
    topo: Topology, fab: IbFabric, names: dict[str, str] | None = None, plane: int = 0
) -> dict[str, str]:
    """Discovered node id -> the name it is compared under."""
    from aictl.topology.exports.ibnet import planned_guids

    names = names or {}
    planned = planned_guids(topo, plane) if topo.spec.subnet_manager.guids == "planned" else {}
    out = {}
    for nid, node in fab.nodes.items():
        guids = [node.guid, *sorted(node.port_guids)]
        out[nid] = (
            next((names[g] for g in guids if g in names), None)
            or next((planned[g] for g in guids if g in planned), None)
            or node.description
        )
    return out


def ambiguous(fab: IbFabric, named: dict[str, str]) -> list[Finding]:
    """One finding per name that several discovered devices share."""
    counts = Counter(named.values())
    out = []
    for name in sorted((n for n, c in counts.items() if c > 1), key=natural_key):
        guids = sorted(fab.nodes[nid].guid for nid, n in named.items() if n == name)
        out.append(
            Finding(
                "ambiguous-devices",
                name,
                f"{counts[name]} devices report {name!r} (GUIDs {', '.join(guids[:4])}"
                + (", ..." if len(guids) > 4 else "")
                + "): their cables cannot be matched to the plan by name",
                "give a node-name map with one name per GUID (--node-name-map), or plan the "
                "fabric's GUIDs (subnet_manager.guids: planned) when it was built to them",
                detail={"guids": guids},
            )
        )
    return out
