"""Stage 2 analysis: what the plan costs and how it behaves.

Counts per tier, the bill of materials, port use, oversubscription, bisection bandwidth,
path classes with hop counts, and what one failed leaf, spine or core does to the fabric.
Everything is derived from the Topology, never from raw YAML.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from math import ceil
from typing import TYPE_CHECKING, Any

from aictl.natsort import compress_hostlist
from aictl.spec.rules import profile_rails

if TYPE_CHECKING:
    from aictl.topology.model import Cable, FabricPlan, Topology

FABRIC_ROLES = ("leaf", "spine", "core")


@dataclass(frozen=True, slots=True)
class BomLine:
    """One line of the bill of materials."""

    category: str
    item: str
    model: str
    quantity: int
    notes: str


_last_used: list[tuple[object, Counter[str]]] = []


def used_ports(topo: Topology) -> Counter[str]:
    """Cabled ports per device (the last plan's counts are kept: BOM and summary both ask)."""
    if _last_used and _last_used[0][0] is topo.cables:
        return _last_used[0][1]
    used: Counter[str] = Counter(c.a_device for c in topo.cables)
    used.update(c.b_device for c in topo.cables)
    _last_used[:] = [(topo.cables, used)]
    return used


def bom(topo: Topology) -> list[BomLine]:
    """The bill of materials: servers, NICs, switches, cables and transceivers — each compute
    fabric on its own lines (side by side, named, when there are several)."""
    spec = topo.spec
    out: list[BomLine] = []
    profiles = Counter(n.profile for n in topo.nodes)
    for name, count in sorted(profiles.items()):
        p = spec.node_profiles[name]
        out.append(
            BomLine(
                "servers", f"GPU node ({name})", p.system, count, f"{p.gpu.count} x {p.gpu.model}"
            )
        )
    for name, count in sorted(profiles.items()):
        p = spec.node_profiles[name]
        nics = p.compute_nics
        if nics.attach == "integrated":
            out.append(
                BomLine(
                    "servers",
                    "compute port (in the NPU)",
                    nics.model,
                    count * p.gpu.count,
                    f"{nics.speed_gbps} Gb/s, integrated in each NPU, one per rail",
                )
            )
            continue
        out.append(
            BomLine(
                "servers",
                "compute NIC",
                nics.model,
                count * len(nics.rails),
                f"{nics.speed_gbps} Gb/s, one per rail",
            )
        )
    for fp in topo.fabrics:
        out += _fabric_bom(topo, fp, profiles)
    e = spec.ethernet
    roles = Counter(s.role for s in topo.switches)
    tiers = Counter(c.tier for c in topo.cables)
    if roles["tor"]:
        out.append(
            BomLine(
                "ethernet",
                "ToR switch",
                e.tor_model,
                roles["tor"],
                f"{e.mode}, {e.nodes_per_tor} nodes each",
            )
        )
    if roles["agg"]:
        out.append(BomLine("ethernet", "aggregation switch", e.aggregation_model, roles["agg"], ""))
    for tier, label in (
        ("node-tor", "cable bond member-ToR"),
        ("tor-peer", "cable MLAG peer"),
        ("tor-uplink", "cable ToR uplink"),
    ):
        if tiers[tier]:
            speed = {c.gbps for c in topo.cables if c.tier == tier}
            out.append(
                BomLine(
                    "ethernet", label, "/".join(f"{s}G" for s in sorted(speed)), tiers[tier], ""
                )
            )
    return out


def fabric_of_switch(topo: Topology) -> dict[str, str]:
    """Switch name -> the compute fabric it is in (Ethernet switches are absent)."""
    return {s.name: s.fabric for s in topo.switches if s.role in FABRIC_ROLES}


def fabric_cables(topo: Topology, fabric: str) -> list[Cable]:
    """The compute cables of one fabric (every one ends on a switch of it)."""
    of = fabric_of_switch(topo)
    return [c for c in topo.cables if of.get(c.b_device) == fabric]


def _fabric_bom(topo: Topology, fp: FabricPlan, profiles: Counter[str]) -> list[BomLine]:
    spec = topo.spec
    cf = spec.fabrics()[fp.name]
    cat = "compute fabric" if not topo.several_fabrics else f"compute fabric {fp.name}"
    what = f" ({fp.transport})" if topo.several_fabrics else ""
    out: list[BomLine] = []
    switches = [s for s in topo.switches if s.fabric == fp.name and s.role in FABRIC_ROLES]
    roles = Counter(s.role for s in switches)
    for role in FABRIC_ROLES:
        if roles[role]:
            out.append(
                BomLine(
                    cat,
                    f"{role} switch",
                    cf.switch_model,
                    roles[role],
                    f"{cf.switch_ports} x {cf.link_gbps} Gb/s{what}",
                )
            )
    tiers = Counter(c.tier for c in fabric_cables(topo, fp.name))
    names = {s.name for s in switches}
    reserved_ports = sum(
        len(r.leaf_ports) for r in topo.reserved if r.leaf_ports and r.leaf_ports[0][0] in names
    )
    if tiers["node-leaf"]:
        out.append(
            BomLine(
                cat,
                "cable node-leaf",
                f"{cf.link_gbps}G",
                tiers["node-leaf"] - reserved_ports,
                "GPU node HCA to rail leaf",
            )
        )
    if reserved_ports:
        out.append(
            BomLine(
                cat,
                f"cable {cf.reserved.name}-leaf",
                f"{cf.link_gbps}G",
                reserved_ports,
                "reserved slot devices to leaves",
            )
        )
    for tier in ("leaf-spine", "spine-core"):
        if tiers[tier]:
            out.append(BomLine(cat, f"cable {tier}", f"{cf.link_gbps}G", tiers[tier], ""))
    used = used_ports(topo)
    cages = sum(ceil(used[s.name] / cf.ports_per_cage) for s in switches)
    out.append(
        BomLine(
            cat,
            "switch transceiver",
            f"{cf.link_gbps}G x {cf.ports_per_cage}-port",
            cages,
            "one per used switch cage",
        )
    )
    node_cages = sum(
        count
        * ceil(
            profile_rails(spec.node_profiles[name])
            * cf.planes
            / spec.node_profiles[name].compute_nics.ports_per_cage
        )
        for name, count in profiles.items()
        if spec.fabric_name(name) == fp.name
    )
    out.append(
        BomLine(cat, "node transceiver", f"{cf.link_gbps}G", node_cages, "one per used node cage")
    )
    return out


def port_use(topo: Topology) -> dict[str, dict[str, int]]:
    """Ports per role: switches, total ports, used ports."""
    used = used_ports(topo)
    out: dict[str, dict[str, int]] = {}
    for s in topo.switches:
        row = out.setdefault(s.role, {"switches": 0, "ports": 0, "used": 0})
        row["switches"] += 1
        row["ports"] += s.ports
        row["used"] += used[s.name]
    return out


def bisection_gbps(topo: Topology, fabric: FabricPlan | None = None) -> int:
    """Bandwidth across a balanced cut of a fabric's nodes, over all planes (Gb/s); for the
    whole plan, the sum over its fabrics (they carry separate traffic).

    The smaller of half the endpoint bandwidth and half the up-capacity of every tier.
    """
    if fabric is None:
        return sum(bisection_gbps(topo, f) for f in topo.fabrics)
    sh = fabric.shape
    g = sh.inp.link_gbps
    endpoints = sh.inp.nodes * sh.inp.rails
    caps = [endpoints * g, sh.leaf_spine_per_plane * g]
    if sh.tiers == 3:
        caps.append(sh.spine_core_per_plane * g)
    return min(caps) // 2 * sh.inp.planes


def path_classes(topo: Topology) -> list[dict[str, Any]]:
    """Traffic classes between two GPUs and the switches each crosses (per fabric, each row
    naming its fabric, when there are several; none between fabrics: they do not meet)."""
    out: list[dict[str, Any]] = []
    for fp in topo.fabrics:
        rows = _path_classes(topo, fp)
        if topo.several_fabrics:
            rows = [{"fabric": fp.name, **r} for r in rows]
        out += rows
    return out


def _path_classes(topo: Topology, fp: FabricPlan) -> list[dict[str, Any]]:
    sh = fp.shape
    scale_up = sorted(
        {p.gpu.info.scale_up_label for p in topo.profiles.values() if p.fabric == fp.name}
    )
    via = "NVLink/NVSwitch" if scale_up == ["NVLink"] else "/".join(scale_up) or "NVLink/NVSwitch"
    out: list[dict[str, Any]] = [
        {"class": "same node", "switches": 0, "via": via},
        {"class": "same rail, same leaf", "switches": 1, "via": "leaf"},
    ]
    if sh.leaves_per_rail_per_su > 1:
        out.append(
            {"class": "same rail, same SU, other leaf", "switches": 3, "via": "leaf-spine-leaf"}
        )
    if sh.tiers == 2:
        out += [
            {"class": "same rail, other SU", "switches": 3, "via": "leaf-spine-leaf"},
            {"class": "other rail", "switches": 3, "via": "leaf-spine-leaf"},
        ]
    else:
        out += [
            {
                "class": "same rail, same spine pod, other SU",
                "switches": 3,
                "via": "leaf-spine-leaf",
            },
            {
                "class": "same rail, other spine pod",
                "switches": 5,
                "via": "leaf-spine-core-spine-leaf",
            },
            {
                "class": "other rail (other rail group)",
                "switches": 5,
                "via": "leaf-spine-core-spine-leaf",
            },
        ]
    for row in out:
        row["hops"] = row["switches"] + 1 if row["switches"] else 0
    return out


def failure_impact(topo: Topology) -> list[dict[str, Any]]:
    """What losing one leaf, one spine or one core does (first of each, by plan order), per
    fabric (each row naming its fabric when there are several)."""
    out: list[dict[str, Any]] = []
    for fp in topo.fabrics:
        rows = _failure_impact(topo, fp)
        if topo.several_fabrics:
            rows = [{"fabric": fp.name, **r} for r in rows]
        out += rows
    return out


def _failure_impact(topo: Topology, fp: FabricPlan) -> list[dict[str, Any]]:
    sh = fp.shape
    out: list[dict[str, Any]] = []
    mine = [s for s in topo.switches if s.fabric == fp.name]
    leaves = [s for s in mine if s.role == "leaf"]
    if leaves:
        leaf = leaves[0]
        hit = [n.name for n in topo.nodes if any(lp[0] == leaf.name for lp in n.leaf_ports)]
        out.append(
            {
                "component": "leaf",
                "example": leaf.name,
                "bandwidth_lost_pct": round(100 / len(leaves), 2),
                "nodes_losing_rail": len(hit),
                "rail": leaf.rail,
                "plane": leaf.plane + 1,
                "nodes": compress_hostlist(hit),
                "connected": True,
                "note": f"{len(hit)} nodes lose rail {leaf.rail}; jobs on them slow down or fail "
                "until the leaf is back (NCCL drops the rail)",
            }
        )
    spines = [s for s in mine if s.role == "spine"]
    if spines:
        spine = spines[0]
        share = 100 / sh.spines
        scope = (
            "every leaf's uplinks"
            if sh.tiers == 2
            else (f"the uplinks of rail {spine.rail} pod {spine.pod}")
        )
        out.append(
            {
                "component": "spine",
                "example": spine.name,
                "bandwidth_lost_pct": round(share, 2),
                "nodes_losing_rail": 0,
                "connected": sh.spines > 1,
                "note": f"{share:.3g}% of {scope}; no node loses a rail"
                + ("" if sh.spines > 1 else "; the only spine: the SUs are cut apart"),
            }
        )
    cores = [s for s in mine if s.role == "core"]
    if cores:
        core = cores[0]
        share = 100 / sh.cores_per_group
        out.append(
            {
                "component": "core",
                "example": core.name,
                "bandwidth_lost_pct": round(100 / len(cores) * sh.inp.planes, 2),
                "nodes_losing_rail": 0,
                "connected": sh.spines > 1 or sh.cores_per_group > 1,
                "note": f"core group {core.group + 1} loses {share:.3g}% of its capacity; "
                "other groups carry on",
            }
        )
    return out


def fabric_summary(topo: Topology, fp: FabricPlan) -> dict[str, Any]:
    """One compute fabric at a glance."""
    sh = fp.shape
    counts = sh.counts()
    nodes = topo.fabric_nodes(fp.name)
    return {
        "name": fp.name,
        "transport": fp.transport,
        "tiers": sh.tiers,
        "planes": sh.inp.planes,
        "nodes": sh.inp.nodes,
        "gpus": sum(topo.profile(n).gpu.count for n in nodes),
        "groups": sorted({n.profile for n in nodes}),
        "rails": sh.inp.rails,
        "sus": sh.sus,
        "nodes_per_su": sh.inp.nodes_per_su,
        "reserved_slots": sum(1 for r in topo.reserved if r.name.startswith(fp.prefix)),
        "link_gbps": sh.inp.link_gbps,
        "switches": counts["switches"],
        "cables": counts["cables"],
        "links_per_leaf_spine_pair": counts["links_per_leaf_spine_pair"],
        "links_per_spine_core_pair": counts["links_per_spine_core_pair"],
        "oversubscription": counts["oversubscription"],
        "bisection_gbps": bisection_gbps(topo, fp),
    }


_SUMMED = ("leaf", "spine", "core", "total")


def summary(topo: Topology) -> dict[str, Any]:
    """The plan at a glance: the keys `topo plan --output json` prints. A plan of several
    fabrics has each under `fabrics`; the top level then adds their counts up (switches,
    cables, SUs, rails, bisection) and names every transport, e.g. `infiniband+roce`."""
    spec = topo.spec
    per = [fabric_summary(topo, fp) for fp in topo.fabrics]
    first = per[0]
    eth = Counter(c.tier for c in topo.cables if c.tier.startswith(("node-tor", "tor-")))
    roles = Counter(s.role for s in topo.switches)
    out = {
        "name": spec.name,
        **{k: v for k, v in first.items() if k not in ("name", "groups")},
        "nodes": len(topo.nodes),
        "gpus": sum(topo.profile(n).gpu.count for n in topo.nodes),
        "ethernet": {
            "tor": roles["tor"],
            "agg": roles["agg"],
            "cables": {k.replace("-", "_"): v for k, v in sorted(eth.items())},
        },
        "ports": port_use(topo),
        "fabrics": per,
    }
    if len(per) > 1:
        out.update(
            transport="+".join(sorted({f["transport"] for f in per})),
            tiers=max(f["tiers"] for f in per),
            planes=max(f["planes"] for f in per),
            rails=sum(f["rails"] for f in per),
            sus=sum(f["sus"] for f in per),
            nodes_per_su=max(f["nodes_per_su"] for f in per),
            reserved_slots=sum(f["reserved_slots"] for f in per),
            link_gbps=max(f["link_gbps"] for f in per),
            switches={k: sum(f["switches"][k] for f in per) for k in _SUMMED},
            cables={
                k: sum(f["cables"][k] for f in per)
                for k in ("node_leaf", "leaf_spine", "spine_core")
            },
            bisection_gbps=sum(f["bisection_gbps"] for f in per),
        )
    return out
