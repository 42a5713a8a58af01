"""The lab's simulated AMD Instinct and Huawei Ascend nodes: their accelerators, stack and
NPU ports in the node's hardware JSON, and how a fault shows on them.

An AMD node keeps the NVIDIA node's PCIe rail NICs (ConnectX, RDMA devices on bridges) and
gets Instinct GPUs on xGMI, amdgpu and ROCm at the pins of playbooks/vars/versions.yml. An
Ascend node has no host rail NICs: each NPU carries its own RoCE port, whose address
provisioning sets with hccn_tool (the simulated hccn_tool keeps it in the node's own
/etc/hccn.conf, as the real one does), so a fresh lab node's NPU ports are unconfigured.
The same fault names mean the same thing on every vendor: `port-down` downs rail r's port
(an NPU's own on Ascend), `nvlink-down` the GPU's scale-up links (xGMI, HCCS), `ecc-errors`
what the vendor's tool reports as uncorrectable errors or bad health.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from aictl.topology.model import NodePlacement, Topology
    from aictl.topology.profiles import Profile

# the pinned stacks (playbooks/vars/versions.yml), so that a provisioned lab node is at them;
# a unit test keeps them in step. The Ascend firmware is not pinned: any value the fleet
# shares will do (this one is made up for the lab).
ROCM = "7.0.2"
AMDGPU = "6.16.13"
AMD_SMI = "26.0.2+39589fda"
ASCEND_DRIVER = "24.1.rc3.7"
ASCEND_FIRMWARE = "7.5.0.1.129"
CANN = "8.2.RC1"
# PCIe bus numbers of the simulated accelerators, one per index (made up, stable)
AMD_BUSES = (0x05, 0x26, 0x46, 0x65, 0x85, 0xA6, 0xC6, 0xE5, 0x15, 0x36, 0x56, 0x75)
NPU_BUSES = (0xC1, 0xC2, 0x81, 0x82, 0x01, 0x02, 0x41, 0x42, 0xC3, 0x83, 0x03, 0x43)


def vendor_hardware(topo: Topology, node: NodePlacement, prof: Profile, hw: dict[str, Any]) -> None:
    """Turn the healthy NVIDIA-shaped hardware of `node` into its vendor's (in place)."""
    vendor = prof.gpu.vendor
    hw["vendor"] = vendor
    if vendor == "amd":
        _amd(prof, hw)
    elif vendor == "huawei":
        _ascend(topo, node, prof, hw)


def _amd(prof: Profile, hw: dict[str, Any]) -> None:
    n = prof.gpu.count
    for g in hw["gpus"]:
        bus = AMD_BUSES[g["index"] % len(AMD_BUSES)]
        g.update(
            bdf=f"0000:{bus:02x}:00.0",
            hip_id=g["index"],
            oam_id=(n - 1 - g["index"]),
            pcie={"gen": 5, "max_gen": 5, "width": 16, "max_width": 16},
            xgmi_links=max(0, n - 1) if prof.gpu.scale_up == "xgmi" else 0,
            xgmi_down=[],
            uec=0,
        )
    hw.update(
        amdgpu=AMDGPU,
        rocm=ROCM,
        amd_smi=AMD_SMI,
        nvswitch=False,
        fabricmanager="inactive",
        peermem=True,  # amdgpu loaded: ROCm's peer memory
    )


def _ascend(topo: Topology, node: NodePlacement, prof: Profile, hw: dict[str, Any]) -> None:
    model = prof.gpu.model.removeprefix("Ascend")
    for g in hw["gpus"]:
        bus = NPU_BUSES[g["index"] % len(NPU_BUSES)]
        g.update(
            model=model,
            bdf=f"0000:{bus:02X}:00.0",
            chip=0,
            phy_id=g["index"],
            health="OK",
            hbm_total_mb=65536,
            pcie={"gen": 4, "max_gen": 4, "width": 16, "max_width": 16},
            hccs_down=False,
        )
    hw["npu_ports"] = [
        {
            "device": r.index,
            "rail": r.index,
            "link": "UP",
            # what provisioning should configure (the simulated hccn_tool compares nothing:
            # it answers from /etc/hccn.conf, which is empty until hccn_tool -ip -s)
            "planned_ip": node.rail_ips[r.index],
            "speed_gbps": prof.nic_gbps,
            "perf_factor": 1.0,
            "leaf": node.leaf_ports[r.index][0],
            "leaf_port": node.leaf_ports[r.index][1],
        }
        for r in prof.rails
    ]
    hw.update(
        nics=[],
        bridges=[],
        ascend={"driver": ASCEND_DRIVER, "firmware": ASCEND_FIRMWARE, "cann": CANN},
        nvswitch=False,
        fabricmanager="inactive",
        peermem=False,
    )


def rails_of(hw: dict[str, Any]) -> int:
    """How many rails a node has: its PCIe NICs, or its NPU ports."""
    return len(hw.get("npu_ports") or hw["nics"])


def apply_vendor_fault(hw: dict[str, Any], fault: dict[str, Any]) -> None:
    """How a fault shows on an AMD or Ascend node (after the common part, in place)."""
    kind, vendor = fault["kind"], hw.get("vendor", "nvidia")
    if vendor == "nvidia":
        return
    # (a fault that took a GPU away has renumbered the rest: index what is left)
    index = fault.get("gpu") or 0
    gpu = hw["gpus"][index] if index < len(hw["gpus"]) else None
    port = None
    if hw.get("npu_ports"):
        port = hw["npu_ports"][fault.get("rail") or 0]
    if vendor == "amd" and gpu is not None:
        if kind == "nvlink-down":
            # xGMI to the first peers goes; traffic to them falls back to PCIe
            peers = [i for i in range(len(hw["gpus"])) if i != gpu["index"]]
            gpu["xgmi_down"] = peers[: int(fault.get("factor") or 1)]
        elif kind == "ecc-errors":
            gpu["uec"] = 2
    elif vendor == "huawei":
        if kind == "port-down" and port is not None:
            port["link"] = "DOWN"
        elif kind == "slow-nic" and port is not None:
            port["perf_factor"] = float(fault.get("factor") or 0.5)
        elif kind == "nvlink-down" and gpu is not None:
            gpu["hccs_down"] = True
        elif kind == "ecc-errors" and gpu is not None:
            gpu["health"] = "Alarm"


# the simulated tools a node of each vendor has (an AMD node has no nvidia-smi, an Ascend
# node no HCA tools or perftest: its ports are the NPUs')
_NVIDIA_ONLY = ("nvidia-smi", "dcgmi")
_HOST_RDMA = (
    "ibstat",
    "ibv_devinfo",
    "ibdev2netdev",
    "show_gids",
    "ofed_info",
    "mlnx_qos",
    "ib_write_bw",
    "ib_read_bw",
    "all_reduce_perf",
    "all_gather_perf",
    "reduce_scatter_perf",
    "alltoall_perf",
    "sendrecv_perf",
)
AMD_TOOLS = ("amd-smi", "rocm-smi")
ASCEND_TOOLS = (
    "npu-smi",
    "hccn_tool",
    "all_reduce_test",
    "all_gather_test",
    "reduce_scatter_test",
    "alltoall_test",
)


def vendor_tools(vendor: str, common: tuple[str, ...]) -> tuple[str, ...]:
    """The simulated tools to install on a node of `vendor` (`common`: NVIDIA's set)."""
    if vendor == "amd":
        return tuple(t for t in common if t not in _NVIDIA_ONLY) + AMD_TOOLS
    if vendor == "huawei":
        return tuple(t for t in common if t not in _NVIDIA_ONLY + _HOST_RDMA) + ASCEND_TOOLS
    return common


def stack_files(vendor: str) -> dict[str, str]:
    """The version files a vendor's installed stack leaves, at the pins (path from / ->
    text): the ROCm release file; the Ascend driver, firmware and CANN version files."""
    if vendor == "amd":
        return {"opt/rocm/.info/version": f"{ROCM}-70002\n"}
    if vendor != "huawei":
        return {}
    mark = "# aictl-lab: simulated Ascend stack (lab)\n"
    base = "usr/local/Ascend/"
    return {
        base + "driver/version.info": (
            f"{mark}Version={ASCEND_DRIVER}\npackage_version={ASCEND_DRIVER}\n"
        ),
        base + "firmware/version.info": f"{mark}Version={ASCEND_FIRMWARE}\n",
        base + "ascend-toolkit/latest/x86_64-linux/ascend_toolkit_install.info": (
            f"{mark}package_name=Ascend-cann-toolkit\nversion={CANN}\narch=x86_64\nos=linux\n"
        ),
    }


def installed_stack(root: Path, vendor: str) -> None:
    """The files a vendor's installed stack leaves in a lab node's root (stack_files, and
    hccn_tool's place), so provisioning finds the node at the pinned versions."""
    for rel, text in stack_files(vendor).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    if vendor == "huawei":
        base = root / "usr/local/Ascend"
        tools = base / "driver/tools"
        tools.mkdir(parents=True, exist_ok=True)
        (tools / "hccn_tool").symlink_to("/opt/aictl-lab/simtools.py")
