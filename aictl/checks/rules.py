"""Preflight rules: parsed facts of one node + what the plan expects -> one result per check.

A check is `ok`, `warn` (shown, does not fail the node), `fail` or `skip` (its facts could
not be read because an earlier fact failed, e.g. no SSH). Fleet rules (the same driver and
MOFED everywhere) run over all nodes afterwards.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aictl.checks.parse_gpu import DISTANCE

if TYPE_CHECKING:
    from aictl.topology.model import NodePlacement, Topology

CHECKS = (
    "ssh",
    "gpu",
    "driver",
    "fabricmanager",
    "peermem",
    "ofed",
    "hca",
    "affinity",
    "pcie",
    "acs",
    "bond",
    "mtu",
    "ecc",
    "nvlink",
)
WHAT = {
    "ssh": "the node answers over SSH with a verified host key",
    "gpu": "GPU count and model as planned",
    "driver": "NVIDIA driver present, the same version on every node",
    "fabricmanager": "nvidia-fabricmanager active and fabric state completed (NVSwitch systems)",
    "peermem": "nvidia_peermem loaded (GPUDirect RDMA)",
    "ofed": "MLNX_OFED/DOCA-OFED present, the same version on every node",
    "hca": "every rail HCA port Active/LinkUp at the planned rate and link layer",
    "affinity": "each rail NIC is among the nearest NICs (PIX/PXB) of the GPUs it serves",
    "pcie": "GPU and NIC PCIe links at their full width and speed",
    "acs": "ACS disabled on the PCIe bridges (P2P between GPU and NIC not redirected)",
    "bond": "bond in 802.3ad with every member up in one aggregator",
    "mtu": "rail and bond MTUs as planned",
    "ecc": "no uncorrectable ECC errors, retired pages pending or row-remapping failures",
    "nvlink": "every NVLink of every GPU active (NVSwitch systems)",
}


@dataclass(frozen=True, slots=True)
class Result:
    """One check on one node."""

    check: str
    status: str  # ok | warn | fail | skip
    message: str = ""
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "status": self.status,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True, slots=True)
class Expect:
    """What the plan says one node has."""

    gpus: int
    gpu_model: str
    nvswitch: bool
    rails: tuple[tuple[str, str, tuple[int, ...]], ...]  # (rdma dev, netdev, gpus)
    rate_gbps: int
    link_layer: str
    rail_mtu: int
    bond: str
    bond_mtu: int
    bond_members: tuple[str, ...]


def expect(topo: Topology, node: NodePlacement) -> Expect:
    """The expectation for `node` from its profile and the fabric."""
    from aictl.spec.rules import rail_mtu

    spec = topo.spec
    prof = spec.node_profiles[node.profile]
    storage = prof.storage_nics
    return Expect(
        gpus=prof.gpu.count,
        gpu_model=prof.gpu.model,
        nvswitch=prof.gpu.nvswitch,
        rails=tuple((n.rdma_device, n.netdev, tuple(n.gpus)) for n in prof.compute_nics.rails),
        rate_gbps=prof.compute_nics.speed_gbps,
        link_layer="InfiniBand" if spec.compute_fabric.transport == "infiniband" else "Ethernet",
        rail_mtu=rail_mtu(spec),
        bond=storage.bond.name if storage else "",
        bond_mtu=storage.bond.mtu if storage else 0,
        bond_members=tuple(storage.netdevs) if storage else (),
    )


Facts = dict[str, dict[str, Any]]


def _ok(check: str, message: str = "") -> list[Result]:
    return [Result(check, "ok", message)]


def _missing(check: str, facts: Facts, *sections: str) -> list[Result] | None:
    for s in sections:
        f = facts.get(s)
        if f is None or f.get("status") != "ok":
            why = (f or {}).get("failure") or {}
            return [Result(check, "fail", f"cannot read {s}: {why.get('message', 'no output')}")]
    return None


def gpu(e: Expect, f: Facts) -> list[Result]:
    if (m := _missing("gpu", f, "smi")) is not None:
        return m
    gpus = f["smi"]["gpus"]
    bad = []
    if len(gpus) != e.gpus:
        bad.append(f"{len(gpus)} GPUs, planned {e.gpus}")
    models = Counter(g["model"] for g in gpus)
    wrong = [m for m in models if m and e.gpu_model.lower() not in m.lower()]
    if wrong:
        bad.append(f"model {', '.join(wrong)}, planned {e.gpu_model}")
    if bad:
        return [
            Result(
                "gpu",
                "fail",
                "; ".join(bad),
                "check the GPU baseboard and driver (dmesg, nvidia-bug-report)",
            )
        ]
    return _ok("gpu", f"{len(gpus)} x {e.gpu_model}")


def driver(e: Expect, f: Facts) -> list[Result]:
    if (m := _missing("driver", f, "smi")) is not None:
        return m
    return _ok("driver", f"{f['smi']['driver']} (CUDA {f['smi']['cuda']})")


def fabricmanager(e: Expect, f: Facts) -> list[Result]:
    if not e.nvswitch:
        return [Result("fabricmanager", "skip", "no NVSwitch")]
    state = (f.get("fabricmanager") or {}).get("state")
    fab = [g["fabric_state"] for g in (f.get("smi") or {}).get("gpus", []) if g.get("fabric_state")]
    if state != "active":
        return [
            Result(
                "fabricmanager",
                "fail",
                f"nvidia-fabricmanager is {state or 'unknown'}",
                "systemctl enable --now nvidia-fabricmanager (its version must match the driver)",
            )
        ]
    if any(s not in ("Completed", "N/A") for s in fab):
        return [
            Result(
                "fabricmanager",
                "fail",
                f"GPU fabric state {', '.join(sorted(set(fab)))}",
                "restart nvidia-fabricmanager; see its log",
            )
        ]
    return _ok("fabricmanager", "active")


def peermem(e: Expect, f: Facts) -> list[Result]:
    if (m := _missing("peermem", f, "lsmod")) is not None:
        return m
    mods = set(f["lsmod"]["modules"])
    if mods & {"nvidia_peermem", "nv_peer_mem"}:
        return _ok("peermem", "nvidia_peermem loaded")
    return [
        Result(
            "peermem",
            "fail",
            "nvidia_peermem not loaded: GPUDirect RDMA is off",
            "modprobe nvidia_peermem; add it to /etc/modules-load.d (load after MOFED)",
        )
    ]


def ofed(e: Expect, f: Facts) -> list[Result]:
    if (m := _missing("ofed", f, "ofed")) is not None:
        return [
            Result(
                "ofed",
                "fail",
                m[0].message,
                "install MOFED/DOCA-OFED (aictl provision --tags mofed)",
            )
        ]
    return _ok("ofed", f["ofed"]["version"])


def hca(e: Expect, f: Facts) -> list[Result]:
    if (m := _missing("hca", f, "ibstat")) is not None:
        return m
    ports = {p["device"]: p for p in f["ibstat"]["ports"] if p["port"] == 1}
    bad = []
    for r, (dev, _netdev, _g) in enumerate(e.rails):
        p = ports.get(dev)
        if p is None:
            bad.append(f"rail {r} {dev}: not found")
            continue
        why = []
        if p["state"] != "Active":
            why.append(f"state {p['state']}")
        if p["physical_state"] not in (None, "LinkUp"):
            why.append(f"physical {p['physical_state']}")
        if p["rate_gbps"] is not None and p["rate_gbps"] != e.rate_gbps:
            why.append(f"rate {p['rate_gbps']} Gb/s (planned {e.rate_gbps})")
        if p["link_layer"] != e.link_layer:
            why.append(f"link layer {p['link_layer']} (planned {e.link_layer})")
        if why:
            bad.append(f"rail {r} {dev}: {', '.join(why)}")
    if bad:
        return [
            Result(
                "hca",
                "fail",
                "; ".join(bad),
                "check the cable and the leaf port (aictl topo verify), then the subnet manager",
            )
        ]
    return _ok("hca", f"{len(e.rails)} rails Active at {e.rate_gbps} Gb/s")


def affinity(e: Expect, f: Facts) -> list[Result]:
    if (m := _missing("affinity", f, "topo")) is not None:
        return m
    nearest = f["topo"]["nearest_nics"]
    matrix = f["topo"]["matrix"]
    bad = []
    for r, (dev, _n, gpus) in enumerate(e.rails):
        for g in gpus:
            rel = matrix.get(str(g), {}).get(dev)
            if dev not in nearest.get(str(g), []) or rel not in DISTANCE[:2]:
                bad.append(
                    f"GPU{g}-{dev} (rail {r}) is {rel or 'absent'}, nearest "
                    + (",".join(nearest.get(str(g), [])) or "none")
                )
    if bad:
        return [
            Result(
                "affinity",
                "fail",
                "; ".join(bad),
                "fix the rail-to-GPU pairing in the spec (compute_nics.rails[].gpus) or the "
                "NIC slots",
            )
        ]
    return _ok("affinity", "every rail NIC is PIX/PXB to its GPUs")


def pcie(e: Expect, f: Facts) -> list[Result]:
    if (m := _missing("pcie", f, "smi")) is not None:
        return m
    bad = []
    for g in f["smi"]["gpus"]:
        if g["pcie_width"] and g["pcie_width_max"] and g["pcie_width"] < g["pcie_width_max"]:
            bad.append(
                f"GPU{g['index']} ({g['bus_id']}) x{g['pcie_width']} of x{g['pcie_width_max']}"
            )
    lspci = f.get("lspci") or {}
    for d in lspci.get("devices", []):
        cap, sta = d.get("link_cap"), d.get("link_sta")
        nic = "Infiniband" in d["class"] or (
            "Ethernet controller" in d["class"] and "Mellanox" in d["description"]
        )
        if nic and cap and sta and (sta["width"] < cap["width"] or sta["gts"] < cap["gts"]):
            bad.append(
                f"NIC {d['bdf']} x{sta['width']} {sta['gts']:g}GT/s "
                f"of x{cap['width']} {cap['gts']:g}GT/s"
            )
    if bad:
        return [
            Result(
                "pcie",
                "fail",
                "; ".join(bad),
                "reseat the card or riser; check the slot in the BIOS; a degraded link "
                "halves GPUDirect bandwidth",
            )
        ]
    return _ok("pcie", "full width and speed")


def acs(e: Expect, f: Facts) -> list[Result]:
    if (m := _missing("acs", f, "lspci")) is not None:
        return m
    on = [
        d["bdf"] for d in f["lspci"]["devices"] if d.get("acs_ctl") and any(d["acs_ctl"].values())
    ]
    if on:
        return [
            Result(
                "acs",
                "fail",
                f"ACS enabled on {', '.join(on)}",
                "disable ACS (setpci -s <bdf> ECAP_ACS+0x6.w=0000; the rendered ACS boot "
                "unit does it at boot)",
            )
        ]
    return _ok("acs", "disabled")


def bond(e: Expect, f: Facts) -> list[Result]:
    if not e.bond:
        return [Result("bond", "skip", "no bond planned")]
    if (m := _missing("bond", f, "bond")) is not None:
        return m
    b = f["bond"]
    bad = []
    if "802.3ad" not in (b["mode"] or ""):
        bad.append(f"mode {b['mode']}")
    names = {m["name"]: m for m in b["members"]}
    for want in e.bond_members:
        mem = names.get(want)
        if mem is None:
            bad.append(f"{want} not a member")
        elif mem["mii_status"] != "up":
            bad.append(f"{want} {mem['mii_status']}")
        elif b["active_aggregator"] is not None and mem["aggregator"] != b["active_aggregator"]:
            bad.append(
                f"{want} in aggregator {mem['aggregator']}, active is {b['active_aggregator']}"
            )
    if bad:
        return [
            Result(
                "bond",
                "fail",
                f"{e.bond}: " + "; ".join(bad),
                "check LACP on the ToR pair (MLAG bond for this host) and the member cables",
            )
        ]
    return _ok(
        "bond",
        f"{e.bond} 802.3ad, {len(e.bond_members)} members in aggregator {b['active_aggregator']}",
    )


def mtu(e: Expect, f: Facts) -> list[Result]:
    if (m := _missing("mtu", f, "iplink")) is not None:
        return m
    links = f["iplink"]["links"]
    want = {n: e.rail_mtu for _d, n, _g in e.rails}
    if e.bond:
        want[e.bond] = e.bond_mtu
    bad = [
        f"{n} {links.get(n, {}).get('mtu', 'absent')} (planned {mtu_})"
        for n, mtu_ in want.items()
        if links.get(n, {}).get("mtu") != mtu_
    ]
    if bad:
        return [
            Result(
                "mtu",
                "fail",
                "; ".join(bad),
                "re-apply the rendered netplan (aictl provision --tags network)",
            )
        ]
    return _ok("mtu", "as planned")


def ecc(e: Expect, f: Facts) -> list[Result]:
    if (m := _missing("ecc", f, "smi")) is not None:
        return m
    bad, warn = [], []
    for g in f["smi"]["gpus"]:
        tag = f"GPU{g['index']}"
        if g["volatile_uncorrectable"]:
            bad.append(f"{tag} {g['volatile_uncorrectable']} uncorrectable")
        if g["retired_pending"] or g["remap_pending"]:
            bad.append(f"{tag} page retirement/row remap pending")
        if g["remap_failure"]:
            bad.append(f"{tag} row remapping failed")
        if g["retired_dbe"]:
            bad.append(f"{tag} {g['retired_dbe']} DBE retired pages")
        elif g["retired_sbe"]:
            warn.append(f"{tag} {g['retired_sbe']} SBE retired pages")
    if bad:
        return [
            Result(
                "ecc",
                "fail",
                "; ".join(bad + warn),
                "drain the node and reset the GPU (pending retirements apply on reset); "
                "RMA on row-remap failure",
            )
        ]
    if warn:
        return [Result("ecc", "warn", "; ".join(warn))]
    return _ok("ecc", "clean")


def nvlink(e: Expect, f: Facts) -> list[Result]:
    if not e.nvswitch:
        return [Result("nvlink", "skip", "no NVSwitch")]
    if (m := _missing("nvlink", f, "nvlink")) is not None:
        return m
    bad = [
        f"GPU{g['index']} {g['links_active']}/{g['links_total']}"
        for g in f["nvlink"]["gpus"]
        if g["links_total"] == 0 or g["links_active"] < g["links_total"]
    ]
    if len(f["nvlink"]["gpus"]) < e.gpus:
        bad.append(f"{len(f['nvlink']['gpus'])} GPUs report NVLink, planned {e.gpus}")
    if bad:
        return [
            Result(
                "nvlink",
                "fail",
                "links down: " + ", ".join(bad),
                "reset the GPUs/NVSwitch tray; check fabric manager; RMA if it persists",
            )
        ]
    return _ok(
        "nvlink", f"{f['nvlink']['gpus'][0]['links_total']} links x {len(f['nvlink']['gpus'])} GPUs"
    )


RULES = (
    gpu,
    driver,
    fabricmanager,
    peermem,
    ofed,
    hca,
    affinity,
    pcie,
    acs,
    bond,
    mtu,
    ecc,
    nvlink,
)


def evaluate(e: Expect, facts: Facts) -> list[Result]:
    """Every node rule, in CHECKS order."""
    out = [Result("ssh", "ok")]
    for rule in RULES:
        out += rule(e, facts)
    return out


def fleet(rows: dict[str, dict[str, Result]], versions: dict[str, dict[str, str]]) -> None:
    """Driver and OFED must match the fleet's majority; outliers fail (in place)."""
    for check in ("driver", "ofed"):
        seen = {n: v[check] for n, v in versions.items() if v.get(check)}
        if len(set(seen.values())) < 2:
            continue
        major, _ = Counter(seen.values()).most_common(1)[0]
        for n, v in seen.items():
            if v != major:
                rows[n][check] = Result(
                    check,
                    "fail",
                    f"{v}, the fleet runs {major}",
                    "install the fleet's version (aictl provision)",
                )
