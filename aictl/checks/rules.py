"""Preflight checks: what each needs, and the rule that judges a node's facts against its profile.

A check names the facts it reads (aictl/facts/registry.py) and has one rule: the node's
resolved profile (what the plan says it has) and its parsed facts in, results out. A result is
`ok`, `warn` (shown, does not fail the node), `fail` or `skip` (not applicable, or its facts
could not be read because an earlier step failed, e.g. no SSH). Fleet rules (the same driver
and OFED everywhere) run over all nodes afterwards.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from aictl.checks import health
from aictl.facts import gpu as gpu_facts
from aictl.facts import hca as hca_facts
from aictl.facts import host as host_facts
from aictl.facts.model import Parsed
from aictl.status import Status

if TYPE_CHECKING:
    from collections.abc import Callable

    from aictl.topology.profiles import Profile

P = TypeVar("P", bound=Parsed)


@dataclass(frozen=True, slots=True)
class Result:
    """One check on one node."""

    check: str
    status: Status
    message: str = ""
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "status": self.status.value,
            "message": self.message,
            "fix": self.fix,
        }

    @classmethod
    def read(cls, d: dict[str, Any]) -> Result:
        return cls(
            str(d["check"]),
            Status.read(d["status"]),
            str(d.get("message", "")),
            str(d.get("fix", "")),
        )


class NodeFacts:
    """A node's parsed facts by name, read with the type the rule expects, and what the plan
    gave the node that a rule compares with (its rail addresses, plane 0 first)."""

    def __init__(self, facts: dict[str, Parsed], planned_rail_ips: tuple[str, ...] = ()) -> None:
        self.by_name = facts
        self.planned_rail_ips = planned_rail_ips

    def get(self, name: str, kind: type[P]) -> P | None:
        f = self.by_name.get(name)
        return f if isinstance(f, kind) else None

    def values(self) -> list[Parsed]:
        return list(self.by_name.values())


@dataclass(frozen=True, slots=True)
class Check:
    """One preflight check: its column head, what it means, the facts it needs, its rule."""

    name: str
    short: str
    what: str
    needs: tuple[str, ...]
    rule: Callable[[Profile, NodeFacts], Result] | None


def _ok(check: str, message: str = "") -> Result:
    return Result(check, Status.OK, message)


def _fail(check: str, message: str, fix: str = "") -> Result:
    return Result(check, Status.FAIL, message, fix)


def _read(check: str, f: NodeFacts, name: str, kind: type[P]) -> P | Result:
    """The fact, or the failure that it could not be read."""
    got = f.by_name.get(name)
    if isinstance(got, kind) and got.ok:
        return got
    why = got.failure.message if got is not None and got.failure else "no output"
    return _fail(check, f"cannot read {name}: {why}")


def gpu(p: Profile, f: NodeFacts) -> Result:
    smi = _read("gpu", f, "nvidia-smi-q", gpu_facts.SmiQuery)
    if isinstance(smi, Result):
        return smi
    bad = []
    if len(smi.gpus) != p.gpu.count:
        bad.append(f"{len(smi.gpus)} GPUs, planned {p.gpu.count}")
    models = Counter(g.model for g in smi.gpus)
    wrong = [m for m in models if m and p.gpu.model.lower() not in m.lower()]
    if wrong:
        bad.append(f"model {', '.join(wrong)}, planned {p.gpu.model}")
    if bad:
        return _fail(
            "gpu", "; ".join(bad), "check the GPU baseboard and driver (dmesg, nvidia-bug-report)"
        )
    state = health.gpu_state(p, f)
    if state is not None:
        return Result("gpu", *state)
    return _ok("gpu", f"{len(smi.gpus)} x {p.gpu.model}")


def driver(p: Profile, f: NodeFacts) -> Result:
    smi = _read("driver", f, "nvidia-smi-q", gpu_facts.SmiQuery)
    if isinstance(smi, Result):
        return smi
    return _ok("driver", f"{smi.driver} (CUDA {smi.cuda})")


def fabricmanager(p: Profile, f: NodeFacts) -> Result:
    if not p.gpu.nvswitch:
        return Result("fabricmanager", Status.SKIP, "no NVSwitch")
    unit = f.get("fabricmanager", host_facts.UnitState)
    state = unit.state if unit is not None else None
    smi = f.get("nvidia-smi-q", gpu_facts.SmiQuery)
    fab = [g.fabric_state for g in (smi.gpus if smi else ()) if g.fabric_state]
    if state != "active":
        return _fail(
            "fabricmanager",
            f"nvidia-fabricmanager is {state or 'unknown'}",
            "systemctl enable --now nvidia-fabricmanager (its version must match the driver)",
        )
    if any(s not in ("Completed", "N/A") for s in fab):
        return _fail(
            "fabricmanager",
            f"GPU fabric state {', '.join(sorted(set(fab)))}",
            "restart nvidia-fabricmanager; see its log",
        )
    runtime = health.fabric_runtime(p, f)
    if runtime is not None:
        return Result("fabricmanager", *runtime)
    return _ok("fabricmanager", "active")


def peermem(p: Profile, f: NodeFacts) -> Result:
    mods = _read("peermem", f, "lsmod", host_facts.Modules)
    if isinstance(mods, Result):
        return mods
    if set(mods.modules) & {"nvidia_peermem", "nv_peer_mem"}:
        return _ok("peermem", "nvidia_peermem loaded")
    return _fail(
        "peermem",
        "nvidia_peermem not loaded: GPUDirect RDMA is off",
        "modprobe nvidia_peermem; add it to /etc/modules-load.d (load after MOFED)",
    )


def ofed(p: Profile, f: NodeFacts) -> Result:
    info = _read("ofed", f, "ofed_info", hca_facts.OfedVersion)
    if isinstance(info, Result):
        return _fail("ofed", info.message, "install MOFED/DOCA-OFED (aictl provision --tags mofed)")
    return _ok("ofed", info.version or "")


def hca(p: Profile, f: NodeFacts) -> Result:
    stat = _read("hca", f, "ibstat", hca_facts.HcaPorts)
    if isinstance(stat, Result):
        return stat
    ports = stat.port1()
    bad = []
    for rail in p.rails:
        dev = rail.rdma_device
        port = ports.get(dev)
        if port is None:
            bad.append(f"rail {rail.index} {dev}: not found")
            continue
        why = []
        if port.state != "Active":
            why.append(f"state {port.state}")
        if port.physical_state not in (None, "LinkUp"):
            why.append(f"physical {port.physical_state}")
        if port.rate_gbps is not None and port.rate_gbps != p.nic_gbps:
            why.append(f"rate {port.rate_gbps} Gb/s (planned {p.nic_gbps})")
        if port.link_layer != p.link_layer:
            why.append(f"link layer {port.link_layer} (planned {p.link_layer})")
        if why:
            bad.append(f"rail {rail.index} {dev}: {', '.join(why)}")
    if bad:
        return _fail(
            "hca",
            "; ".join(bad),
            "check the cable and the leaf port (aictl topo verify), then the subnet manager",
        )
    return _ok("hca", f"{len(p.rails)} rails Active at {p.nic_gbps} Gb/s")


def affinity(p: Profile, f: NodeFacts) -> Result:
    topo_m = _read("affinity", f, "topo", gpu_facts.TopoMatrix)
    if isinstance(topo_m, Result):
        return topo_m
    if topo_m.gpus < p.gpu.count:  # indices shift when a GPU is gone: `gpu` says which
        return Result("affinity", Status.SKIP, f"{topo_m.gpus} of {p.gpu.count} GPUs (see gpu)")
    bad = []
    for rail in p.rails:
        dev = rail.rdma_device
        for g in rail.gpus:
            rel = topo_m.matrix.get(str(g), {}).get(dev)
            if dev not in topo_m.near(g) or rel not in gpu_facts.DISTANCE[:2]:
                bad.append(
                    f"GPU{g}-{dev} (rail {rail.index}) is {rel or 'absent'}, nearest "
                    + (",".join(topo_m.near(g)) or "none")
                )
    if bad:
        return _fail(
            "affinity",
            "; ".join(bad),
            "fix the rail-to-GPU pairing in the spec (compute_nics.rails[].gpus) or the NIC slots",
        )
    return _ok("affinity", "every rail NIC is PIX/PXB to its GPUs")


def pcie(p: Profile, f: NodeFacts) -> Result:
    smi = _read("pcie", f, "nvidia-smi-q", gpu_facts.SmiQuery)
    if isinstance(smi, Result):
        return smi
    bad = [
        f"GPU{g.index} ({g.bus_id}) x{g.pcie_width} of x{g.pcie_width_max}"
        for g in smi.gpus
        if g.pcie_width and g.pcie_width_max and g.pcie_width < g.pcie_width_max
    ]
    lspci = f.get("lspci", host_facts.PciDevices)
    for d in lspci.devices if lspci else ():
        cap, sta = d.link_cap, d.link_sta
        if d.is_rdma_nic and cap and sta and (sta.width < cap.width or sta.gts < cap.gts):
            bad.append(f"NIC {d.bdf} x{sta.width} {sta.gts:g}GT/s of x{cap.width} {cap.gts:g}GT/s")
    if bad:
        return _fail(
            "pcie",
            "; ".join(bad),
            "reseat the card or riser; check the slot in the BIOS; a degraded link halves "
            "GPUDirect bandwidth",
        )
    return _ok("pcie", "full width and speed")


def acs(p: Profile, f: NodeFacts) -> Result:
    lspci = _read("acs", f, "lspci", host_facts.PciDevices)
    if isinstance(lspci, Result):
        return lspci
    on = [d.bdf for d in lspci.devices if d.acs_ctl and any(d.acs_ctl.values())]
    if on:
        return _fail(
            "acs",
            f"ACS enabled on {', '.join(on)}",
            "disable ACS (setpci -s <bdf> ECAP_ACS+0x6.w=0000; the rendered ACS boot unit does "
            "it at boot)",
        )
    return _ok("acs", "disabled")


def bond(p: Profile, f: NodeFacts) -> Result:
    if not p.bond.members:
        return Result("bond", Status.SKIP, "no bond planned")
    b = _read("bond", f, "bonding", host_facts.BondStatus)
    if isinstance(b, Result):
        return b
    bad = []
    if "802.3ad" not in (b.mode or ""):
        bad.append(f"mode {b.mode}")
    names = {m.name: m for m in b.members}
    for want in p.bond.members:
        mem = names.get(want)
        if mem is None:
            bad.append(f"{want} not a member")
        elif mem.mii_status != "up":
            bad.append(f"{want} {mem.mii_status}")
        elif b.active_aggregator is not None and mem.aggregator != b.active_aggregator:
            bad.append(f"{want} in aggregator {mem.aggregator}, active is {b.active_aggregator}")
    if bad:
        return _fail(
            "bond",
            f"{p.bond.name}: " + "; ".join(bad),
            "check LACP on the ToR pair (MLAG bond for this host) and the member cables",
        )
    return _ok(
        "bond",
        f"{p.bond.name} 802.3ad, {len(p.bond.members)} members in aggregator {b.active_aggregator}",
    )


def mtu(p: Profile, f: NodeFacts) -> Result:
    ip = _read("mtu", f, "ip-link", host_facts.Links)
    if isinstance(ip, Result):
        return ip
    want = {r.netdev: p.rail_mtu for r in p.host_rails}
    want[p.bond.name] = p.bond.mtu
    bad = []
    for name, planned in want.items():
        link = ip.links.get(name)
        if link is None or link.mtu != planned:
            bad.append(f"{name} {link.mtu if link else 'absent'} (planned {planned})")
    if bad:
        return _fail(
            "mtu", "; ".join(bad), "re-apply the rendered netplan (aictl provision --tags network)"
        )
    return _ok("mtu", "as planned")


def ecc(p: Profile, f: NodeFacts) -> Result:
    smi = _read("ecc", f, "nvidia-smi-q", gpu_facts.SmiQuery)
    if isinstance(smi, Result):
        return smi
    bad, warn = [], []
    for g in smi.gpus:
        tag = f"GPU{g.index}"
        if g.volatile_uncorrectable:
            bad.append(f"{tag} {g.volatile_uncorrectable} uncorrectable")
        if g.retired_pending or g.remap_pending:
            bad.append(f"{tag} page retirement/row remap pending")
        if g.remap_failure:
            bad.append(f"{tag} row remapping failed")
        if g.retired_dbe:
            bad.append(f"{tag} {g.retired_dbe} DBE retired pages")
        elif g.retired_sbe:
            warn.append(f"{tag} {g.retired_sbe} SBE retired pages")
    if bad:
        return _fail(
            "ecc",
            "; ".join(bad + warn),
            "drain the node and reset the GPU (pending retirements apply on reset); RMA on "
            "row-remap failure",
        )
    if warn:
        return Result("ecc", Status.WARN, "; ".join(warn))
    return _ok("ecc", "clean")


def nvlink(p: Profile, f: NodeFacts) -> Result:
    if not p.gpu.nvswitch and not p.gpu.nvlink_gbytes:
        return Result("nvlink", Status.SKIP, "no NVLink")
    nv = _read("nvlink", f, "nvlink", gpu_facts.NvlinkStatus)
    if isinstance(nv, Result):
        return nv
    bad = [
        f"GPU{g.index} all links inactive"
        if g.all_inactive
        else f"GPU{g.index} {g.links_active}/{g.links_total}"
        for g in nv.gpus
        if g.all_inactive or g.links_total == 0 or g.links_active < g.links_total
    ]
    smi = f.get("nvidia-smi-q", gpu_facts.SmiQuery)
    present = len(smi.gpus) if smi is not None and smi.ok else p.gpu.count  # `gpu` counts
    if len(nv.gpus) < present:
        bad.append(f"{len(nv.gpus)} GPUs report NVLink, {present} present")
    if bad:
        return _fail(
            "nvlink",
            "links down: " + ", ".join(bad),
            "reset the GPUs/NVSwitch tray; check fabric manager; RMA if it persists",
        )
    return _ok("nvlink", f"{nv.gpus[0].links_total} links x {len(nv.gpus)} GPUs")


CHECKS: tuple[Check, ...] = (
    Check("ssh", "ssh", "the node answers over SSH with a verified host key", (), None),
    Check(
        "gpu",
        "gpu",
        "GPU count and model as planned, every NVSwitch on the bus, no GPU unreadable or "
        "asking for a reset",
        ("nvidia-smi-q", "lspci"),
        gpu,
    ),
    Check(
        "driver",
        "drv",
        "NVIDIA driver present, the same version on every node",
        ("nvidia-smi-q",),
        driver,
    ),
    Check(
        "fabricmanager",
        "fm",
        "nvidia-fabricmanager active, fabric state completed and healthy, no errors in its log "
        "(NVSwitch systems)",
        ("fabricmanager", "nvidia-smi-q", "fabricmanager-log"),
        fabricmanager,
    ),
    Check("peermem", "peer", "nvidia_peermem loaded (GPUDirect RDMA)", ("lsmod",), peermem),
    Check(
        "ofed",
        "ofed",
        "MLNX_OFED/DOCA-OFED present, the same version on every node",
        ("ofed_info",),
        ofed,
    ),
    Check(
        "hca",
        "hca",
        "every rail HCA port Active/LinkUp at the planned rate and link layer",
        ("ibstat",),
        hca,
    ),
    Check(
        "affinity",
        "aff",
        "each rail NIC is among the nearest NICs (PIX/PXB) of the GPUs it serves",
        ("topo",),
        affinity,
    ),
    Check(
        "pcie",
        "pcie",
        "GPU and NIC PCIe links at their full width and speed",
        ("nvidia-smi-q", "lspci"),
        pcie,
    ),
    Check(
        "acs",
        "acs",
        "ACS disabled on the PCIe bridges (P2P between GPU and NIC not redirected)",
        ("lspci",),
        acs,
    ),
    Check(
        "bond", "bond", "bond in 802.3ad with every member up in one aggregator", ("bonding",), bond
    ),
    Check("mtu", "mtu", "rail and bond MTUs as planned", ("ip-link",), mtu),
    Check(
        "ecc",
        "ecc",
        "no uncorrectable ECC errors, retired pages pending or row-remapping failures",
        ("nvidia-smi-q",),
        ecc,
    ),
    Check(
        "nvlink",
        "nvl",
        "every NVLink of every GPU active (NVLink systems, NVSwitch or direct)",
        ("nvlink", "nvidia-smi-q"),
        nvlink,
    ),
    # day-2 faults (checks/health.py)
    Check(
        "xid",
        "xid",
        "no Xid or SXid in the kernel log's window that needs a reset, a reboot or an RMA",
        ("kernel-log", "nvidia-smi-q"),
        lambda p, f: Result("xid", *health.xid(p, f)),
    ),
    Check(
        "throttle",
        "thr",
        "no hardware clock slowdown (thermal, power brake) on any GPU",
        ("nvidia-smi-q",),
        lambda p, f: Result("throttle", *health.throttle(p, f)),
    ),
    Check(
        "aer",
        "aer",
        "no uncorrectable PCIe errors (AER counters), few correctable ones",
        ("aer", "nvidia-smi-q", "lspci"),
        lambda p, f: Result("aer", *health.aer(p, f)),
    ),
    Check(
        "nvlink-errors",
        "nvle",
        "no NVLink recoveries or CRC errors (nvidia-smi nvlink -e)",
        ("nvlink-errors",),
        lambda p, f: Result("nvlink-errors", *health.nvlink_errors(p, f)),
    ),
    Check(
        "roce",
        "roce",
        "RoCE rails: QoS as rendered (trust, PFC, ECN), no pause frames off the RoCE priority, "
        "few drops",
        ("roce",),
        lambda p, f: Result("roce", *health.roce(p, f)),
    ),
    Check(
        "dcgm",
        "dcgm",
        "DCGM diagnostics pass (aictl check --dcgm LEVEL; skipped without DCGM)",
        ("dcgm",),
        lambda p, f: Result("dcgm", *health.dcgm(p, f)),
    ),
)
BY_NAME = {c.name: c for c in CHECKS}
NAMES = tuple(c.name for c in CHECKS)


def needed_facts(checks: tuple[Check, ...] = CHECKS, vendor: str = "nvidia") -> list[str]:
    """The facts the checks read on a node of `vendor`, each once, in check order."""
    from aictl.checks.vendors import check_of

    return list(dict.fromkeys(n for c in checks for n in check_of(c, vendor)[0]))


def evaluate(profile: Profile, facts: NodeFacts) -> list[Result]:
    """Every check's result for a node that answered, in check order, each with its
    vendor's rule (aictl/checks/vendors.py)."""
    from aictl.checks.vendors import check_of

    rules_ = [check_of(c, profile.gpu.vendor)[1] for c in CHECKS if c.rule]
    return [Result("ssh", Status.OK)] + [rule(profile, facts) for rule in rules_ if rule]


def unreachable(why: str) -> list[Result]:
    """A node that could not be reached: `ssh` fails, the rest cannot be judged."""
    return [_fail("ssh", why, "check sshd and the host key (aictl exec)")] + [
        Result(c.name, Status.SKIP, "no SSH") for c in CHECKS[1:]
    ]


def fleet(rows: dict[str, dict[str, Result]], versions: dict[str, dict[str, str]]) -> None:
    """Driver (and firmware) and OFED must match the majority of the nodes of the same
    vendor (an amdgpu version is no NVIDIA driver's peer); outliers fail (in place)."""
    for check, key in (("driver", "driver"), ("driver", "firmware"), ("ofed", "ofed")):
        by_vendor: dict[str, dict[str, str]] = {}
        for n, have in versions.items():
            if have.get(key):
                by_vendor.setdefault(have.get("vendor", "nvidia"), {})[n] = have[key]
        for seen in by_vendor.values():
            if len(set(seen.values())) < 2:
                continue
            major, _ = Counter(seen.values()).most_common(1)[0]
            for n, version in seen.items():
                if version != major:
                    what = "" if key == check else f"{key} "
                    rows[n][check] = _fail(
                        check,
                        f"{what}{version}, the fleet runs {major}",
                        "install the fleet's version (aictl provision)",
                    )
