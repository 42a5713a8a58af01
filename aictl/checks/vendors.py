"""Preflight per vendor: the facts and rule each check uses on an AMD Instinct or a Huawei
Ascend node (NVIDIA's are the checks in aictl/checks/rules.py as they stand).

The columns stay the same for every vendor, so one matrix covers a mixed cluster. What a
column reads on AMD Instinct (A) and Huawei Ascend (H):

- gpu: A amd-smi count and model; H npu-smi info count and model.
- driver: A amd-smi's amdgpu and ROCm versions; H the driver, firmware and CANN files.
- fabricmanager: skipped on both (xGMI and HCCS need none).
- peermem: A lsmod amdgpu (ROCm's peer memory); H skipped (NPU ports are not host RDMA).
- ofed: A ofed_info (ConnectX rails); H skipped (no PCIe RDMA NIC).
- hca: A ibstat, as on NVIDIA; H hccn_tool link UP and net health Success per NPU port.
- affinity: A rocm-smi --showtopo NUMA of each GPU = lspci NUMA of its rail NIC; H NPU i's
  port holds rail i's planned address (hccn_tool: the integrated-port map).
- pcie: lspci links of the GPUs or NPUs (and NICs) at full width and speed.
- acs: A lspci, as on NVIDIA; H skipped (no GPU-NIC peer-to-peer on the host).
- bond, mtu: as on NVIDIA (the bond; rails only where the host has them).
- ecc: A amd-smi's uncorrectable count (UEC) per GPU; H every chip's npu-smi Health OK.
- nvlink (scale-up): A amd-smi topology xGMI between every pair; H npu-smi info -t topo
  HCCS between every pair.

- day-2 (checks/health.py): aer reads the sysfs AER counters of every PCIe device, on
  every vendor; roce (the rails' QoS and counters) runs on A's ConnectX rails as on NVIDIA,
  and is skipped on H (the NPU ports' QoS is set with hccn_tool, not mlnx_qos: not read yet);
  xid, throttle, nvlink-errors and dcgm read NVIDIA's driver and tools and are skipped on A
  and H, each saying so (an AMD or Ascend node's uncorrectable errors and alarms are the ecc
  column; its scale-up links the nvlink column).

Kunlunxin nodes get inventory and health from xpu_smi; the other columns say what is not
checked there yet.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aictl.checks import health
from aictl.checks.rules import Result, _fail, _ok, _read
from aictl.facts import amd as amd_facts
from aictl.facts import ascend as ascend_facts
from aictl.facts import host as host_facts
from aictl.facts import kunlun as kunlun_facts
from aictl.status import Status

if TYPE_CHECKING:
    from collections.abc import Callable

    from aictl.checks import rules
    from aictl.checks.rules import NodeFacts
    from aictl.topology.profiles import Profile

    Rule = Callable[[Profile, NodeFacts], Result]


def _skip(check: str, why: str) -> Result:
    return Result(check, Status.SKIP, why)


def _same_model(planned: str, seen: str) -> bool:
    """`AMD Instinct MI300X` vs amd-smi's name; `Ascend910B3` vs npu-smi's `910B3`."""

    def norm(s: str) -> str:
        return re.sub(r"[\s_-]+", "", s.lower()).removeprefix("ascend")

    a, b = norm(planned), norm(seen)
    return bool(a and b) and (a in b or b in a)


# ---- AMD Instinct ----------------------------------------------------------------------
def amd_gpu(p: Profile, f: NodeFacts) -> Result:
    smi = _read("gpu", f, "amd-smi", amd_facts.AmdSmiTable)
    if isinstance(smi, Result):
        return smi
    bad = []
    if len(smi.gpus) != p.gpu.count:
        bad.append(f"{len(smi.gpus)} GPUs, planned {p.gpu.count}")
    wrong = sorted({g.name for g in smi.gpus if not _same_model(p.gpu.model, g.name)})
    if wrong:
        bad.append(f"model {', '.join(wrong)}, planned {p.gpu.model}")
    if bad:
        return _fail("gpu", "; ".join(bad), "check the GPUs (amd-smi, dmesg | grep amdgpu)")
    return _ok("gpu", f"{len(smi.gpus)} x {p.gpu.model}")


def amd_driver(p: Profile, f: NodeFacts) -> Result:
    smi = _read("driver", f, "amd-smi", amd_facts.AmdSmiTable)
    if isinstance(smi, Result):
        return smi
    if not smi.amdgpu_version:
        return _fail("driver", "amd-smi names no amdgpu driver", "install ROCm (aictl provision)")
    return _ok("driver", f"amdgpu {smi.amdgpu_version} (ROCm {smi.rocm_version})")


def amd_peermem(p: Profile, f: NodeFacts) -> Result:
    mods = _read("peermem", f, "lsmod", host_facts.Modules)
    if isinstance(mods, Result):
        return mods
    if "amdgpu" in mods.modules:
        return _ok("peermem", "amdgpu loaded (ROCm peer memory for GPUDirect RDMA)")
    return _fail(
        "peermem",
        "amdgpu not loaded: no GPU, and no peer memory for GPUDirect RDMA",
        "modprobe amdgpu (aictl provision --tags rocm)",
    )


def _nic_numa(p: Profile, lspci: host_facts.PciDevices) -> dict[str, int | None]:
    """Rail RDMA device -> its NUMA node: a spec PCI address when given, else the device's
    place among the Mellanox functions (mlx5_<n> is the n-th in PCI order)."""
    nics = [d for d in lspci.devices if d.is_rdma_nic]
    by_bdf = {d.bdf.lower(): d for d in nics}
    out: dict[str, int | None] = {}
    for rail in p.host_rails:
        dev = by_bdf.get((rail.pci_address or "").lower())
        m = re.search(r"(\d+)$", rail.rdma_device)
        if dev is None and m and int(m.group(1)) < len(nics):
            dev = nics[int(m.group(1))]
        out[rail.rdma_device] = dev.numa if dev is not None else None
    return out


def amd_affinity(p: Profile, f: NodeFacts) -> Result:
    topo = _read("affinity", f, "rocm-smi-topo", amd_facts.RocmTopo)
    if isinstance(topo, Result):
        return topo
    lspci = _read("affinity", f, "lspci", host_facts.PciDevices)
    if isinstance(lspci, Result):
        return lspci
    numa = _nic_numa(p, lspci)
    bad = []
    for rail in p.host_rails:
        nic = numa.get(rail.rdma_device)
        for g in rail.gpus:
            gpu = topo.numa.get(str(g))
            if nic is None or gpu is None:
                bad.append(f"GPU{g}-{rail.rdma_device} (rail {rail.index}): NUMA not reported")
            elif nic != gpu:
                bad.append(
                    f"GPU{g} (NUMA {gpu})-{rail.rdma_device} (NUMA {nic}), rail {rail.index}"
                )
    if bad:
        return _fail(
            "affinity",
            "; ".join(bad),
            "fix the rail-to-GPU pairing in the spec (compute_nics.rails[].gpus) or the NIC slots",
        )
    return _ok("affinity", "every rail NIC is on its GPUs' NUMA node (rocm-smi, lspci)")


def _pcie_links(
    lspci: host_facts.PciDevices, accelerator: Callable[[host_facts.PciDevice], bool]
) -> list[str]:
    bad = []
    for d in lspci.devices:
        cap, sta = d.link_cap, d.link_sta
        if not (d.is_rdma_nic or accelerator(d)) or not cap or not sta:
            continue
        if sta.width < cap.width or sta.gts < cap.gts:
            what = "NIC" if d.is_rdma_nic else "accelerator"
            bad.append(
                f"{what} {d.bdf} x{sta.width} {sta.gts:g}GT/s of x{cap.width} {cap.gts:g}GT/s"
            )
    return bad


def _is_amd_gpu(d: host_facts.PciDevice) -> bool:
    return "Advanced Micro Devices" in d.description and (
        "accelerators" in d.cls or "Display" in d.cls
    )


def _is_npu(d: host_facts.PciDevice) -> bool:
    return "Huawei" in d.description and "accelerators" in d.cls


def _pcie(which: Callable[[host_facts.PciDevice], bool]) -> Rule:
    def rule(p: Profile, f: NodeFacts) -> Result:
        lspci = _read("pcie", f, "lspci", host_facts.PciDevices)
        if isinstance(lspci, Result):
            return lspci
        bad = _pcie_links(lspci, which)
        if bad:
            return _fail(
                "pcie",
                "; ".join(bad),
                "reseat the card or riser; check the slot in the BIOS; a degraded link "
                "halves its bandwidth",
            )
        return _ok("pcie", "full width and speed")

    return rule


def amd_ecc(p: Profile, f: NodeFacts) -> Result:
    smi = _read("ecc", f, "amd-smi", amd_facts.AmdSmiTable)
    if isinstance(smi, Result):
        return smi
    bad = [f"GPU{g.index} {g.uncorrectable} uncorrectable" for g in smi.gpus if g.uncorrectable]
    if bad:
        return _fail(
            "ecc",
            "; ".join(bad),
            "drain the node; read amd-smi bad-pages and ras; RMA if the count grows",
        )
    return _ok("ecc", "no uncorrectable ECC errors (UEC)")


def amd_xgmi(p: Profile, f: NodeFacts) -> Result:
    if p.gpu.scale_up != "xgmi":
        return _skip("nvlink", "no xGMI")
    topo = _read("nvlink", f, "amd-smi-topology", amd_facts.AmdTopology)
    if isinstance(topo, Result):
        return topo
    bad = [f"{a}-{b} {kind}" for a, b, kind in topo.not_xgmi()]
    if len(topo.bdfs) < p.gpu.count:
        bad.append(f"{len(topo.bdfs)} GPUs in amd-smi topology, planned {p.gpu.count}")
    if bad:
        return _fail(
            "nvlink",
            "not xGMI: " + ", ".join(bad),
            "reset the GPUs (amd-smi reset); check the xGMI bridges / UBB; RMA if it persists",
        )
    return _ok("nvlink", f"xGMI between all {len(topo.bdfs)} GPUs")


# ---- Huawei Ascend ---------------------------------------------------------------------
def ascend_gpu(p: Profile, f: NodeFacts) -> Result:
    smi = _read("gpu", f, "npu-smi", ascend_facts.NpuSmiInfo)
    if isinstance(smi, Result):
        return smi
    bad = []
    chips = len(smi.chips)
    if chips != p.gpu.count:
        bad.append(f"{chips} NPUs, planned {p.gpu.count}")
    wrong = sorted({c.name for c in smi.chips if not _same_model(p.gpu.model, c.name)})
    if wrong:
        bad.append(f"model {', '.join(wrong)}, planned {p.gpu.model}")
    if bad:
        return _fail("gpu", "; ".join(bad), "check the NPUs (npu-smi info, dmesg | grep davinci)")
    return _ok("gpu", f"{chips} x {p.gpu.model}")


def ascend_driver(p: Profile, f: NodeFacts) -> Result:
    v = _read("driver", f, "ascend-versions", ascend_facts.AscendVersions)
    if isinstance(v, Result):
        return v
    missing = [k for k in ("driver", "firmware", "cann") if not getattr(v, k)]
    if missing:
        return _fail(
            "driver",
            f"no {', '.join(missing)} version file",
            "install the Ascend driver, firmware and CANN (aictl provision --tags ascend)",
        )
    return _ok("driver", f"driver {v.driver}, firmware {v.firmware}, CANN {v.cann}")


def _ports(p: Profile, f: NodeFacts, check: str) -> ascend_facts.HccnPorts | Result:
    return _read(check, f, "hccn_tool", ascend_facts.HccnPorts)


def ascend_ports(p: Profile, f: NodeFacts) -> Result:
    hccn = _ports(p, f, "hca")
    if isinstance(hccn, Result):
        return hccn
    bad = []
    for rail in p.rails:
        port = hccn.ports.get(rail.index)
        if port is None:
            bad.append(f"npu{rail.index}: not reported")
            continue
        why = []
        if port.link != "UP":
            why.append(f"link {port.link or 'unknown'}")
        if (port.health or "").lower() != "success":
            why.append(f"net health {port.health or 'unknown'}")
        if why:
            bad.append(f"npu{rail.index} (rail {rail.index}): {', '.join(why)}")
    if bad:
        return _fail(
            "hca",
            "; ".join(bad),
            "check the NPU port's optic and cable and its leaf port (hccn_tool -i N -optical "
            "-g, aictl topo verify), then the detect address (hccn_tool -i N -netdetect -g)",
        )
    return _ok("hca", f"{len(p.rails)} NPU ports UP, net health Success")


def ascend_affinity(p: Profile, f: NodeFacts) -> Result:
    hccn = _ports(p, f, "affinity")
    if isinstance(hccn, Result):
        return hccn
    planned = f.planned_rail_ips
    where = {ip: i for i, ip in enumerate(planned)}
    bad = []
    for rail in p.rails:
        port = hccn.ports.get(rail.index)
        have = port.ipaddr if port is not None else None
        want = planned[rail.index] if rail.index < len(planned) else None
        if have == want:
            continue
        if have in where:
            bad.append(f"npu{rail.index} holds rail {where[have]}'s address {have}")
        else:
            bad.append(f"npu{rail.index} has {have or 'no address'}, planned {want}")
    if bad:
        return _fail(
            "affinity",
            "; ".join(bad),
            "configure the NPU ports as planned (aictl provision --tags ascend runs "
            "aictl-hccn-setup: /etc/hccn.conf)",
        )
    return _ok("affinity", "NPU i carries rail i's planned address (integrated ports)")


def ascend_health(p: Profile, f: NodeFacts) -> Result:
    smi = _read("ecc", f, "npu-smi", ascend_facts.NpuSmiInfo)
    if isinstance(smi, Result):
        return smi
    bad = [f"NPU{c.npu} chip {c.chip} health {c.health}" for c in smi.unhealthy()]
    if bad:
        return _fail(
            "ecc",
            "; ".join(bad),
            "read the alarm (npu-smi info -t health -i N); drain the node; reset or RMA the NPU",
        )
    return _ok("ecc", "every chip's health OK (npu-smi)")


def ascend_hccs(p: Profile, f: NodeFacts) -> Result:
    if p.gpu.scale_up != "hccs":
        return _skip("nvlink", "no HCCS")
    topo = _read("nvlink", f, "npu-smi-topo", ascend_facts.NpuTopo)
    if isinstance(topo, Result):
        return topo
    bad = [f"NPU{a}-NPU{b} {kind}" for a, b, kind in topo.not_hccs()]
    if topo.npus < p.gpu.count:
        bad.append(f"{topo.npus} NPUs in npu-smi topology, planned {p.gpu.count}")
    if bad:
        return _fail(
            "nvlink",
            "not HCCS: " + ", ".join(bad),
            "reset the NPUs (npu-smi set -t reset); check the HCCS links; RMA if it persists",
        )
    return _ok("nvlink", f"HCCS between all {topo.npus} NPUs")


# ---- Kunlunxin -------------------------------------------------------------------------
def kunlun_gpu(p: Profile, f: NodeFacts) -> Result:
    smi = _read("gpu", f, "xpu_smi", kunlun_facts.XpuSmi)
    if isinstance(smi, Result):
        return smi
    if len(smi.devices) != p.gpu.count:
        return _fail(
            "gpu",
            f"{len(smi.devices)} XPUs, planned {p.gpu.count}",
            "check the cards (xpu_smi, dmesg | grep xpu)",
        )
    return _ok("gpu", f"{len(smi.devices)} x {p.gpu.model}")


def kunlun_driver(p: Profile, f: NodeFacts) -> Result:
    smi = _read("driver", f, "xpu_smi", kunlun_facts.XpuSmi)
    if isinstance(smi, Result):
        return smi
    return _ok("driver", f"driver {smi.driver_version} (runtime {smi.runtime_version})")


def _not(check: str, why: str) -> Rule:
    def rule(p: Profile, f: NodeFacts) -> Result:
        return _skip(check, why)

    return rule


def _aer(p: Profile, f: NodeFacts) -> Result:
    return Result("aer", *health.aer(p, f))


def _roce(p: Profile, f: NodeFacts) -> Result:
    return Result("roce", *health.roce(p, f))


NO_NVSWITCH = "no NVSwitch: only NVIDIA's needs a fabric manager"
NO_XID = "Xid and SXid are NVIDIA driver events (uncorrectable errors: the ecc check)"
NO_THROTTLE = "clock event reasons are nvidia-smi's: not read on this vendor yet"
NO_NVLINK_COUNTERS = "NVLink error counters are NVIDIA's (scale-up links: the nvlink check)"
NO_NPU_QOS = "NPU ports: QoS is set with hccn_tool, not mlnx_qos (not read yet)"
NO_DCGM = "DCGM is NVIDIA's: no diagnostics run on this vendor (not a pass)"
# the day-2 columns on a vendor without NVIDIA's driver and tools
_DAY2: dict[str, tuple[tuple[str, ...], Rule]] = {
    "xid": ((), _not("xid", NO_XID)),
    "throttle": ((), _not("throttle", NO_THROTTLE)),
    "aer": (("aer", "lspci"), _aer),  # (+ the vendor's inventory, to name the devices)
    "nvlink-errors": ((), _not("nvlink-errors", NO_NVLINK_COUNTERS)),
    "dcgm": ((), _not("dcgm", NO_DCGM)),
}
# vendor -> check -> (the facts it reads, its rule); a check not listed runs NVIDIA's rule
OVERRIDES: dict[str, dict[str, tuple[tuple[str, ...], Rule]]] = {
    "amd": {
        "gpu": (("amd-smi",), amd_gpu),
        "driver": (("amd-smi",), amd_driver),
        "fabricmanager": ((), _not("fabricmanager", NO_NVSWITCH)),
        "peermem": (("lsmod",), amd_peermem),
        "affinity": (("rocm-smi-topo", "lspci"), amd_affinity),
        "pcie": (("lspci",), _pcie(_is_amd_gpu)),
        "ecc": (("amd-smi",), amd_ecc),
        "nvlink": (("amd-smi-topology",), amd_xgmi),
        **_DAY2,
        "aer": (("aer", "lspci", "amd-smi"), _aer),
        "roce": (("roce",), _roce),
    },
    "huawei": {
        "gpu": (("npu-smi",), ascend_gpu),
        "driver": (("ascend-versions",), ascend_driver),
        "fabricmanager": ((), _not("fabricmanager", NO_NVSWITCH)),
        "peermem": ((), _not("peermem", "integrated NPU ports: no host peer-memory module")),
        "ofed": ((), _not("ofed", "no PCIe RDMA NIC (the rails are the NPUs' own ports)")),
        "hca": (("hccn_tool",), ascend_ports),
        "affinity": (("hccn_tool",), ascend_affinity),
        "pcie": (("lspci",), _pcie(_is_npu)),
        "acs": ((), _not("acs", "no GPU-NIC peer-to-peer through the host's PCIe")),
        "ecc": (("npu-smi",), ascend_health),
        "nvlink": (("npu-smi-topo",), ascend_hccs),
        **_DAY2,
        "aer": (("aer", "lspci", "npu-smi"), _aer),
        "roce": ((), _not("roce", NO_NPU_QOS)),
    },
    "kunlunxin": {
        "gpu": (("xpu_smi",), kunlun_gpu),
        "driver": (("xpu_smi",), kunlun_driver),
        "fabricmanager": ((), _not("fabricmanager", NO_NVSWITCH)),
        "peermem": ((), _not("peermem", "not checked on Kunlunxin nodes yet")),
        "affinity": ((), _not("affinity", "not checked on Kunlunxin nodes yet")),
        "pcie": ((), _not("pcie", "not checked on Kunlunxin nodes yet")),
        "ecc": ((), _not("ecc", "not checked on Kunlunxin nodes yet")),
        "nvlink": ((), _not("nvlink", "not checked on Kunlunxin nodes yet")),
        **_DAY2,
    },
}


def check_of(check: rules.Check, vendor: str) -> tuple[tuple[str, ...], Rule | None]:
    """The facts and rule of `check` on a node of `vendor`."""
    return OVERRIDES.get(vendor, {}).get(check.name, (check.needs, check.rule))
