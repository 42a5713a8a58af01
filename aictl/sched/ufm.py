"""Isolate a failed InfiniBand link through UFM: the REST request, rendered, not sent.

UFM (6.x, "Unhealthy Ports REST API") marks a port unhealthy with
`PUT /ufmRest/app/unhealthy_ports`, a body naming ports as `<node GUID>_<port number>`,
`ports_policy: UNHEALTHY` and the action the subnet manager takes (`isolate`: routes avoid
the port, the link stays up for diagnosis). The port isolated is the switch side of the
node's rail cable, from the plan. The GUID is the plan's: it is the fabric's only where the
fabric was built to the plan's GUIDs (subnet_manager.guids: planned); elsewhere the request
names the switch and port so that an operator can put the discovered GUID in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aictl.errors import UsageError

if TYPE_CHECKING:
    from aictl.topology.model import Cable, Topology

PATH = "/ufmRest/app/unhealthy_ports"


def rail_cable(topo: Topology, node: str, device: str) -> Cable:
    """The cable from `node`'s rail `device` (an RDMA device or netdev) to its leaf."""
    prof = topo.profile(topo.node(node))
    names = {r.netdev: r.rdma_device for r in prof.rails}
    rdma = names.get(device, device)
    for c in topo.cables:
        if c.tier == "node-leaf" and c.a_device == node and c.a_port == rdma:
            return c
    have = ", ".join(r.rdma_device for r in prof.rails)
    raise UsageError(f"{node} has no rail {device!r}", hint=f"its rails: {have}")


def isolate_request(topo: Topology, node: str, device: str, reason: str) -> dict[str, Any]:
    """The UFM request that isolates the switch port of `node`'s rail `device`."""
    from aictl.topology.exports.ibnet import planned_guids

    fabric = topo.fabric_of(node)
    if fabric.transport != "infiniband":
        raise UsageError(
            f"UFM isolates InfiniBand ports; {node}'s compute fabric is RoCE",
            hint="shut the switch port on the switch instead",
        )
    cable = rail_cable(topo, node, device)
    view = topo.view(fabric.name)
    by_name = {desc: guid for guid, desc in planned_guids(view).items() if " " not in desc}
    guid = by_name.get(cable.b_device, "")
    return {
        "method": "PUT",
        "path": PATH,
        "body": {
            "ports": [f"{guid}_{cable.b_port}"],
            "ports_policy": "UNHEALTHY",
            "action": "isolate",
        },
        "cable": cable.id,
        "switch": cable.b_device,
        "switch_port": cable.b_port,
        "node": node,
        "device": cable.a_port,
        "reason": reason,
        "note": "GUIDs are the plan's; send with curl -k -u USER -X PUT "
        f"https://<ufm>{PATH} -H 'Content-Type: application/json' -d @body; undo with "
        "ports_policy HEALTHY",
    }
