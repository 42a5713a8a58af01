"""The lab's simulated hardware: what each node's GPUs, HCAs and PCIe tree look like.

Built from the plan (GPU and NIC counts, the GPU↔NIC pairing of the spec, planned GUIDs),
then faults are applied on top. The simulated tools inside a node read this JSON on every
call, so an injected fault shows at once. Everything carries `simulated: true`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from aictl.lab.accelerators import apply_vendor_fault, vendor_hardware
from aictl.lab.simtools import ethtool_stats, mlnx_qos_table
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
    # day-2 faults
    "xid",
    "gpu-missing",
    "throttle",
    "link-errors",
    "link-flap",
    "fabric-state",
    "dcgm-fail",
    "aer-errors",
    "nvlink-errors",
    # RoCE host faults (nodes with ConnectX rails on Ethernet: simulated ethtool, mlnx_qos)
    "roce-pause",
    "qos-drift",
)
ROCE_FAULTS = ("roce-pause", "qos-drift")
# faults only NVIDIA's driver and tools show (an AMD or Ascend node has no Xid, no DCGM)
NVIDIA_FAULTS = (
    "fabricmanager-stopped",
    "xid",
    "throttle",
    "fabric-state",
    "dcgm-fail",
    "nvlink-errors",
)
# the faults that live in the fabric (ibsim's port counters), not in a node's hardware file
FABRIC_FAULTS = ("port-down", "swap-cables", "link-errors", "link-flap")


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
            **_gpu_health(),
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
                # RoCE: the QoS the rendered config sets, and clean counters
                "qos": {"trust": "dscp", "pfc": [3], "ecn": [3]},
                "roce_counters": {},
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
        **_node_health(prof.gpu.model, prof.gpu.nvswitch, n_gpu),
    }
    # AMD and Ascend nodes: their accelerators, stack and NPU ports (aictl/lab/accelerators.py)
    vendor_hardware(topo, node, prof, hw)
    return hw


def _gpu_health() -> dict[str, Any]:
    """A healthy GPU's day-2 state: no clock event reason, clean NVLink and AER counters."""
    return {
        "clock_events": [],
        "nvlink_errors": {"replay": 0, "recovery": 0, "crc": 0},
        "aer": {"correctable": 0, "nonfatal": 0, "fatal": 0},
    }


def _node_health(model: str, nvswitch: bool, gpus: int) -> dict[str, Any]:
    """A healthy node's day-2 state: NVSwitches on the bus, an empty kernel log, DCGM passing."""
    chips = {"A100": 6, "A800": 6, "H100": 4, "H800": 4, "H200": 4, "B200": 2}
    count = next((n for m, n in chips.items() if m in model.upper()), 0)
    return {
        "nvswitches": count if nvswitch and gpus == 8 else 0,
        "kernel_log": [],
        "dcgm": {"fail": None},
        "fabric_state": None,
        "fm_errors": [],
    }


def aer_files(hw: dict[str, Any]) -> dict[str, str]:
    """The sysfs AER counter files of the node's GPUs and NICs (bus/pci/devices/<bdf>/...),
    in the layout and error names of Linux 6.x."""
    names = {
        "correctable": (
            "RxErr",
            "BadTLP",
            "BadDLLP",
            "Rollover",
            "Timeout",
            "NonFatalErr",
            "CorrIntErr",
            "HeaderOF",
        ),
        "nonfatal": (
            "Undefined",
            "DLP",
            "SDES",
            "TLP",
            "FCP",
            "CmpltTO",
            "CmpltAbrt",
            "UnxCmplt",
            "RxOF",
            "MalfTLP",
            "ECRC",
            "UnsupReq",
            "ACSViol",
        ),
    }
    names["fatal"] = names["nonfatal"]
    total = {
        "correctable": "TOTAL_ERR_COR",
        "nonfatal": "TOTAL_ERR_NONFATAL",
        "fatal": "TOTAL_ERR_FATAL",
    }
    # where each kind's count lands: a receiver error, a completion timeout, a malformed TLP
    lands = {"correctable": "RxErr", "nonfatal": "CmpltTO", "fatal": "MalfTLP"}
    out = {}
    # nvidia-smi's 8-digit domain (00000000:18:00.0) and lspci's 4-digit one: sysfs has 4
    devices = [(g["bdf"][-12:].lower(), g.get("aer") or {}) for g in hw["gpus"]]
    devices += [(n["bdf"], {}) for n in hw["nics"]]
    for bdf, counts in devices:
        for kind in ("correctable", "fatal", "nonfatal"):
            n = int(counts.get(kind, 0))
            lines = [f"{e} {n if e == lands[kind] else 0}" for e in names[kind]]
            out[f"bus/pci/devices/{bdf}/aer_dev_{kind}"] = "\n".join([*lines, f"{total[kind]} {n}"])
    return out


def aer_grep(hw: dict[str, Any], root: str = "/sys") -> str:
    """What preflight's `grep -H . <root>/bus/pci/devices/*/aer_dev_*` prints for the node."""
    return "\n".join(
        f"{root}/{path}:{line}"
        for path, text in aer_files(hw).items()
        for line in text.splitlines()
    )


HW_COUNTERS = ("np_cnp_sent", "rp_cnp_handled", "out_of_buffer")


def roce_files(hw: dict[str, Any]) -> dict[str, str]:
    """The sysfs files of the RoCE section under /sys: each Ethernet rail's ECN switches per
    priority (notification and reaction point) and its HCA's CNP and buffer hw_counters."""
    out = {}
    for n in hw["nics"]:
        if n.get("link_layer") != "Ethernet":
            continue
        q, c = n.get("qos") or {}, n.get("roce_counters") or {}
        for point in ("roce_np", "roce_rp"):
            for p in range(8):
                on = 1 if p in q.get("ecn", []) else 0
                out[f"class/net/{n['netdev']}/ecn/{point}/enable/{p}"] = str(on)
        for k in HW_COUNTERS:
            out[f"class/infiniband/{n['dev']}/ports/1/hw_counters/{k}"] = str(c.get(k, 0))
    return out


def roce_text(hw: dict[str, Any], root: str = "/sys") -> str:
    """What preflight's RoCE section prints on an Ethernet node: per rail netdev `ethtool -S`
    (pause, discard, buffer and CNP counters), `mlnx_qos -i` and the ECN switches, then the
    HCAs' hw_counters (in the tools' layouts)."""
    files = roce_files({**hw, "nics": [{**n, "link_layer": "Ethernet"} for n in hw["nics"]]})
    out = []
    for n in hw["nics"]:
        out += [f"## netdev {n['netdev']}", *ethtool_stats(n), *mlnx_qos_table(n)]
        ecn = f"class/net/{n['netdev']}/ecn/"
        out += [f"{root}/{k}:{v}" for k, v in files.items() if k.startswith(ecn)]
    out += [f"{root}/{k}:{v}" for k, v in files.items() if "/hw_counters/" in k]
    return "\n".join(out) + "\n"


def fm_log(hw: dict[str, Any]) -> str:
    """/var/log/fabricmanager.log of an NVSwitch node: start-up records, then its errors."""
    t = "[Jan 01 2026 00:00:00]"
    out = [
        f"{t} [INFO] [tid 1001] Fabric Manager version {hw['driver']} is running with the "
        "following configuration options",
        f"{t} [INFO] [tid 1001] Successfully configured all the available NVSwitches to route "
        "GPU NVLink traffic. NVLink Peer-to-Peer support will be enabled once the GPUs are "
        "successfully registered with the NVLink fabric.",
    ]
    return "\n".join(out + list(hw.get("fm_errors", []))) + "\n"


def _xid_line(gpu: dict[str, Any], code: int) -> str:
    """The driver's words for the Xids the lab injects (after real kernel logs)."""
    text = {
        119: f"pid=2277, name=python3, Timeout after 6s of waiting for RPC response from "
        f"GPU{gpu['index']} GSP! Expected function 76 (GSP_RM_CONTROL) (0x20802a02 0x8).",
        48: "pid='<unknown>', name=<unknown>, An uncorrectable double bit error (DBE) has "
        "been detected on GPU in the framebuffer at physAddr 0x12bac1c3e0 partition 2, "
        "subpartition 1.",
        79: "pid='<unknown>', name=<unknown>, GPU has fallen off the bus.",
        13: "pid=2277, name=python3, Graphics SM Warp Exception on (GPC 8, TPC 5, SM 0): "
        "Out Of Range Address",
    }.get(code, f"pid=2277, name=python3, error code {code}")
    return f"NVRM: Xid (PCI:{gpu['bdf'][4:-2].lower()}): {code}, {text}"


def _drop_gpu(hw: dict[str, Any], index: int) -> None:
    """A GPU that did not enumerate: gone from every tool, the others renumbered (as the
    driver numbers what it finds), its NIC partners remapped."""
    gone = hw["gpus"].pop(index)
    for i, g in enumerate(hw["gpus"]):
        g["index"] = i
    for n in hw["nics"]:
        n["gpus"] = [g - (g > gone["index"]) for g in n["gpus"] if g != gone["index"]]


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
    else:
        _apply_day2(hw, fault, gpu)
    # how it shows on an AMD or an Ascend node (aictl/lab/accelerators.py)
    apply_vendor_fault(hw, fault)


def _apply_day2(hw: dict[str, Any], fault: dict[str, Any], gpu: dict[str, Any] | None) -> None:
    kind = fault["kind"]
    if kind == "xid" and gpu is not None:
        code = int(fault.get("code") or 119)
        hw["kernel_log"].append({"at": float(fault.get("at") or 0), "text": _xid_line(gpu, code)})
    elif kind == "gpu-missing" and hw["gpus"]:
        g = fault.get("gpu")
        _drop_gpu(hw, int(g) if g is not None else len(hw["gpus"]) - 1)
    elif kind == "throttle" and gpu is not None:
        gpu["clock_events"] = ["HW Slowdown", "HW Thermal Slowdown"]
    elif kind == "fabric-state":
        hw["fabric_state"] = "In Progress"
    elif kind == "dcgm-fail" and gpu is not None:
        hw["dcgm"]["fail"] = {"test": "memory", "gpu": gpu["index"]}
    elif kind == "aer-errors" and gpu is not None:
        gpu["aer"].update(correctable=420, nonfatal=3)
    elif kind == "nvlink-errors" and gpu is not None:
        gpu["nvlink_errors"].update(replay=31, recovery=2, crc=180)
    elif kind == "roce-pause" and hw["nics"]:
        hw["nics"][fault.get("rail") or 0]["roce_counters"].update(rx_prio0_pause=18234)
    elif kind == "qos-drift" and hw["nics"]:
        hw["nics"][fault.get("rail") or 0]["qos"].update(trust="pcp")


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
