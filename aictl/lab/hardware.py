"""The lab's simulated hardware: what each node's GPUs, HCAs and PCIe tree look like.

Built from the plan (GPU and NIC counts, the GPU↔NIC pairing of the spec, planned GUIDs),
then faults are applied on top. The simulated tools inside a node read this JSON on every
call, so an injected fault shows at once. Everything carries `simulated: true`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from aictl.lab.accelerators import apply_vendor_fault, vendor_hardware
from aictl.topology.exports.ibnet import port_guids

if TYPE_CHECKING:
    from aictl.topology.model import NodePlacement, Topology

# the pinned stack (playbooks/vars/versions.yml: the A800's branch, DOCA-OFED), so that a
# provisioned lab node is already at the pins; a unit test keeps them in step
DRIVER = "620.70.06"
CUDA = "13.5"
OFED = "OFED-internal-25.10-2.4.1"
FAULT_KINDS = (
    "slow-nic",
    "port-down",
    "swap-cables",
    "pcie-degraded",
    "peermem-missing",
    "fabricmanager-stopped",
    "ecc-errors",
    "nvlink-down",
    "sshd-down",
)


def _uuid(cluster: str, node: str, gpu: int) -> str:
    h = hashlib.sha256(f"{cluster}/{node}/gpu{gpu}".encode()).hexdigest()
    return f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def planned_guids(topo: Topology) -> dict[str, str]:
    """Every HCA port's planned GUID (InfiniBand), by `<host> <device>`; compute it once for
    a whole fleet and pass it to `node_hardware`."""
    return port_guids(topo) if topo.ib_fabric is not None else {}


def node_hardware(
    topo: Topology, node: NodePlacement, guids: dict[str, str] | None = None
) -> dict[str, Any]:
    """The healthy hardware of one node."""
    prof = topo.profile(node)
    guids = guids if guids is not None else planned_guids(topo)
    n_gpu = prof.gpu.count
    half = max(1, n_gpu // 2)
    links = nvlinks(prof.gpu.nvswitch, prof.gpu.nvlink_gbytes)
    # each PCIe switch hosts a NIC and the GPUs the spec pairs with it; bus numbers are
    # made up but stable: GPU g at 0x18 + 0x10*g, NIC r at 0x0c + 0x40*r
    gpus = [
        {
            "index": g,
            "model": prof.gpu.model,
            "uuid": _uuid(topo.name, node.name, g),
            "bdf": f"00000000:{0x18 + 0x10 * g:02X}:00.0",
            "numa": 0 if g < half else 1,
            "pcie": {"gen": 4, "max_gen": 4, "width": 16, "max_width": 16},
            "nvlinks": links,
            "nvlink_gbytes": round((prof.gpu.nvlink_gbytes or 0) / links, 2) if links else 0,
            "nvlinks_down": 0,
            "ecc": {"sbe_retired": 0, "dbe_retired": 0, "pending": False, "volatile_uncorr": 0},
        }
        for g in range(n_gpu)
    ]
    nics = []
    partners = prof.spec_gpu_for_rail()
    for nic in prof.host_rails:
        r = nic.index
        guid = guids.get(f"{node.name} {nic.rdma_device}", f"{0x0002C90200000000 + r:016x}")
        partner = partners[r]
        nics.append(
            {
                "dev": nic.rdma_device,
                "netdev": nic.netdev,
                "rail": r,
                "port_guid": guid,
                "node_guid": f"{int(guid, 16) - 1:016x}",
                "lid": 0,
                "rate": prof.nic_gbps,
                "link_layer": prof.link_layer,
                "state": "Active",
                "phys": "LinkUp",
                "ip": node.rail_ips[r],
                "bdf": f"0000:{0x0C + _bus_step(len(prof.rails)) * r:02x}:00.0",
                "gpus": list(nic.gpus),
                "numa": 0 if partner < half else 1,
                "pcie": {"gen": 4, "width": 16},
                "perf_factor": 1.0,
                "leaf": node.leaf_ports[r][0],
                "leaf_port": node.leaf_ports[r][1],
            }
        )
    bond = {
        "name": prof.bond.name,
        "mode": "802.3ad",
        "mtu": prof.bond.mtu,
        "speed_mbps": prof.bond.member_gbps * 1000,
        "members": [
            {"ifname": m, "tor": tor, "port": port}
            for m, (tor, port) in zip(prof.bond.members, node.tor_ports, strict=False)
        ],
    }
    hw = {
        "simulated": True,
        "node": node.name,
        "bond": bond,
        "cluster": topo.name,
        "driver": DRIVER,
        "cuda": CUDA,
        "ofed": OFED,
        "nvswitch": prof.gpu.nvswitch,
        "fabricmanager": "active",
        "peermem": True,
        "gpus": gpus,
        "nics": nics,
        "bridges": [
            {"bdf": f"0000:{0x0A + _bus_step(len(nics)) * r:02x}:00.0", "acs": False}
            for r in range(len(nics))
        ],
        "faults": [],
    }
    # AMD and Ascend nodes: their accelerators, stack and NPU ports (aictl/lab/accelerators.py)
    vendor_hardware(topo, node, prof, hw)
    return hw


def nvlinks(nvswitch: bool, gbytes: float | None) -> int:
    """NVLinks per simulated GPU, from its NVLink bandwidth: 50 GB/s a link through NVLink4
    (A100 600 GB/s = 12, A800/H800 400 = 8, H100 900 = 18), 100 GB/s on NVLink5 (B200 1800 =
    18); none without an NVLink figure. `nvswitch` does not change the count, only where the
    links go (see simtools.topo)."""
    if not gbytes:
        return 0
    per_link = 100 if gbytes > 900 else 50
    return max(1, min(18, round(gbytes / per_link)))


def bonding_status(hw: dict[str, Any]) -> str:
    """/proc/net/bonding/<bond> as the bonding driver prints it, for the simulated bond."""
    b = hw["bond"]
    out = [
        f"# aictl-lab: simulated /proc/net/bonding/{b['name']} ({hw['node']})",
        "Ethernet Channel Bonding Driver: v6.1.0",
        "",
        "Bonding Mode: IEEE 802.3ad Dynamic link aggregation",
        "Transmit Hash Policy: layer3+4 (1)",
        "MII Status: up",
        "MII Polling Interval (ms): 100",
        "",
        "802.3ad info",
        "LACP active: on",
        "LACP rate: fast",
        "Active Aggregator Info:",
        "\tAggregator ID: 1",
        f"\tNumber of ports: {len(b['members'])}",
        "",
    ]
    for m in b["members"]:
        out += [
            f"Slave Interface: {m['ifname']}",
            "MII Status: up",
            f"Speed: {b['speed_mbps']} Mbps",
            "Duplex: full",
            "Link Failure Count: 0",
            "Aggregator ID: 1",
            "",
        ]
    return "\n".join(out)


def _bus_step(rails: int) -> int:
    """PCI bus numbers between rail NICs (and their switches): 0x40 for up to 4 rails, closer
    for more, so every bus stays below 0x100."""
    return 0x40 if rails <= 4 else 0x100 // (1 << (rails - 1).bit_length())


def apply_fault(hw: dict[str, Any], fault: dict[str, Any]) -> None:
    """Change `hw` the way `fault` would show on a real node (in place)."""
    kind = fault["kind"]
    hw["faults"].append(fault)
    nic = hw["nics"][fault.get("rail") or 0] if hw["nics"] else None
    gpu = hw["gpus"][fault.get("gpu") or 0] if hw["gpus"] else None
    if kind == "slow-nic" and nic is not None:
        nic["perf_factor"] = float(fault.get("factor") or 0.5)
    elif kind == "port-down" and nic is not None:
        nic.update(state="Down", phys="Polling", rate=10, lid=0)
    elif kind == "pcie-degraded" and gpu is not None:
        gpu["pcie"].update(width=int(fault.get("factor") or 8))
    elif kind == "peermem-missing":
        hw["peermem"] = False
    elif kind == "fabricmanager-stopped":
        hw["fabricmanager"] = "inactive"
    elif kind == "ecc-errors" and gpu is not None:
        gpu["ecc"].update(sbe_retired=12, dbe_retired=2, pending=True, volatile_uncorr=2)
    elif kind == "swap-cables" and nic is not None:
        nic["swapped_with"] = fault.get("with")
    elif kind == "nvlink-down" and gpu is not None:
        gpu["nvlinks_down"] = min(gpu["nvlinks"], int(fault.get("factor") or 4))
    apply_vendor_fault(hw, fault)


def fabric_description(topo: Topology) -> dict[str, Any]:
    """What the fabric model needs to know about every node (see lab/fabricmodel.py)."""
    nodes = {}
    for node in topo.nodes:
        prof = topo.profile(node)
        fp = topo.fabric_of(node)
        nodes[node.name] = {
            "su": node.su,
            "mgmt_ip": node.mgmt_ip,
            "rail_ips": list(node.rail_ips),
            "leaves": [leaf for leaf, _ in node.leaf_ports[: fp.rails]],
            "devs": [nic.rdma_device for nic in prof.rails],
            "netdevs": [nic.netdev for nic in prof.rails],
            "pix": [list(nic.gpus) for nic in prof.rails],
            "gpus": prof.gpu.count,
            "gpu_model": prof.gpu.model,
            "nvswitch": prof.gpu.nvswitch,
            "nvlink_gbytes": prof.gpu.nvlink_gbytes or 300.0,
            "nvlinks": nvlinks(prof.gpu.nvswitch, prof.gpu.nvlink_gbytes) or 12,
            "nic_gbps": fp.shape.inp.link_gbps,
            # each node's own fabric (a plan may have several) and vendor
            "fabric": fp.name,
            "rails": fp.rails,
            "link_gbps": fp.shape.inp.link_gbps,
            "leaf_uplinks": fp.shape.leaf_uplinks,
            "vendor": prof.gpu.vendor,
        }
    return {
        "simulated": True,
        "cluster": topo.name,
        "seed": f"aictl-lab/{topo.name}",
        "rails": topo.rails,
        "link_gbps": topo.shape.inp.link_gbps,
        "leaf_uplinks": topo.shape.leaf_uplinks,
        "tiers": topo.shape.tiers,
        "nodes": nodes,
        "faults": [],
    }
