"""Discovered InfiniBand fabric vs the plan: every difference, with the fix in installer words.

Endpoints are (device name, port). Devices are named by GUID where that is known (a node-name
map, or the plan's own GUIDs), else by their node description (`<host> <rdma device>` for an
HCA, port 1): see naming.py; devices that end with one name are reported, not compared. The
lower-tier end of a cable (the HCA, or the leaf of a leaf-spine cable) is taken as the fixed
end: when a cable lands on the wrong port, the fix moves its upper end. Two cables each in the
other's port are one swap.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from aictl.fabric import Finding
from aictl.fabric.naming import ambiguous, device_names
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from aictl.facts.ibnet import IbFabric
    from aictl.topology.model import Topology

Endpoint = tuple[str, int]
# total Gb/s of a 4x link -> the speed name ibnetdiscover prints
SPEED_NAME = {40: "QDR", 56: "FDR", 100: "EDR", 200: "HDR", 400: "NDR", 800: "XDR"}
LANE_GBPS = {"SDR": 2.5, "DDR": 5, "QDR": 10, "FDR10": 10, "FDR": 14, "EDR": 25}
LANE_GBPS.update({"HDR": 50, "NDR": 100, "XDR": 200})
_RANK = {"ca": 0, "leaf": 1, "spine": 2, "core": 3}


def planned_links(
    topo: Topology, plane: int = 0
) -> tuple[dict[Endpoint, Endpoint], dict[str, str]]:
    """Both directions of every compute-fabric cable of one plane, and each device's role."""
    fabric = {
        s.name: s.role
        for s in topo.switches
        if s.role in ("leaf", "spine", "core") and s.plane == plane
    }
    peer: dict[Endpoint, Endpoint] = {}
    roles = dict(fabric)
    for c in topo.cables:
        if c.b_device not in fabric:
            continue
        if c.tier == "node-leaf":
            a: Endpoint = (f"{c.a_device} {c.a_port.split('/')[0]}", 1)
            roles[a[0]] = "ca"
        else:
            a = (c.a_device, int(c.a_port))
        b: Endpoint = (c.b_device, int(c.b_port))
        peer[a], peer[b] = b, a
    return peer, roles


def _rate_gbps(rate: str) -> float | None:
    m = re.match(r"(\d+)x([A-Z]+\d*)", rate)
    if not m or m.group(2) not in LANE_GBPS:
        return None
    return int(m.group(1)) * LANE_GBPS[m.group(2)]


def _where(e: Endpoint, roles: dict[str, str]) -> str:
    return e[0] if roles.get(e[0]) == "ca" else f"{e[0]} port {e[1]}"


def _to(src: Endpoint, dst: Endpoint) -> str:
    return f"port {dst[1]}" if src[0] == dst[0] else f"{dst[0]} port {dst[1]}"


def compare(
    topo: Topology, fab: IbFabric, *, names: dict[str, str] | None = None, plane: int = 0
) -> dict[str, Any]:
    """Plan vs discovered: findings (kind, where, message, fix) and counts."""
    plan, roles = planned_links(topo, plane)
    gbps = topo.fabrics[0].shape.inp.link_gbps
    named = device_names(topo, fab, names, plane)
    unclear = ambiguous(fab, named)
    if unclear:
        # cables between devices that share a name would merge: compare nothing on top
        return _result(plane, plan, roles, unclear, links=_links(fab), devices=len(fab.nodes))

    def name(node_id: str) -> str:
        return named.get(node_id, node_id)

    seen: dict[Endpoint, Endpoint] = {}
    rate: dict[Endpoint, str] = {}
    found_devices: dict[str, str] = {}
    for node in fab.nodes.values():
        found_devices[name(node.id)] = node.guid
        for port, (rid, rport, r) in node.links.items():
            a, b = (name(node.id), port), (name(rid), rport)
            seen[a], seen[b] = b, a
            if r:
                rate[a] = rate[b] = r
    findings: list[Finding] = []
    planned_devices = set(roles)
    for dev in sorted(set(found_devices) - planned_devices, key=natural_key):
        findings.append(
            Finding(
                "unknown-device",
                dev,
                f"{dev} (GUID {found_devices[dev]}) is not in the plan",
                "name it in a node-name map (--node-name-map) if it is a planned device under "
                "another description, else remove it from the fabric",
            )
        )
    # a switch nobody reaches is a missing device; an HCA without a link is a missing cable
    missing_devices = {d for d in planned_devices - set(found_devices) if roles[d] != "ca"}
    for dev in sorted(missing_devices, key=natural_key):
        findings.append(
            Finding(
                "missing-device",
                dev,
                f"{roles[dev]} switch {dev} was not discovered",
                "power it on and check its uplinks; every cable to it is unseen until then",
            )
        )

    def anchor(a: Endpoint, b: Endpoint) -> tuple[Endpoint, Endpoint]:
        ra, rb = _RANK.get(roles.get(a[0], ""), 9), _RANK.get(roles.get(b[0], ""), 9)
        return (a, b) if ra <= rb else (b, a)

    miswired: list[tuple[Endpoint, Endpoint, Endpoint]] = []  # (fixed end, is at, should be at)
    done: set[Endpoint] = set()
    for a, b in sorted(seen.items()):
        if a in done:
            continue
        done |= {a, b}
        if a[0] == b[0]:
            # both ends on one device: a loopback or a cable plugged back into its own switch
            ends = "itself" if a == b else f"port {b[1]}"
            planned = [f"{_where(e, roles)}" for e in (plan.get(a), plan.get(b)) if e]
            findings.append(
                Finding(
                    "looped-cable",
                    f"{a[0]} port {a[1]}",
                    f"{a[0]} port {a[1]} is cabled to {ends} on the same device"
                    + (f"; the plan has {' and '.join(planned)} there" if planned else ""),
                    f"remove the loop at {a[0]} port {a[1]}"
                    + (f" and cable the planned {' and '.join(planned)}" if planned else ""),
                )
            )
            continue
        fixed, loose = anchor(a, b)
        if plan.get(fixed) == loose:
            continue
        if fixed in plan and fixed[0] not in missing_devices:
            miswired.append((fixed, loose, plan[fixed]))
        else:
            findings.append(
                Finding(
                    "extra-cable",
                    _where(loose, roles),
                    f"cable {_where(fixed, roles)} <-> {_where(loose, roles)} is not in the plan",
                    f"remove the cable at {_where(loose, roles)}",
                )
            )
    by_pos = {(m[1], m[2]): m for m in miswired}
    paired: set[Endpoint] = set()
    for fixed, at, should in miswired:
        if fixed in paired:
            continue
        other = by_pos.get((should, at))
        if other is not None and other[0] not in paired:
            paired |= {fixed, other[0]}
            findings.append(
                Finding(
                    "swapped-cables",
                    f"{_where(at, roles)} / {_where(should, roles)}",
                    f"cables of {_where(fixed, roles)} and {_where(other[0], roles)} are swapped: "
                    f"{_where(fixed, roles)} is in {_where(at, roles)}, "
                    f"{_where(other[0], roles)} is in {_where(should, roles)}",
                    f"swap the cables at {at[0]} port {at[1]} and {_to(at, should)}",
                    detail={"cables": [list(fixed), list(other[0])]},
                )
            )
            continue
        paired.add(fixed)
        findings.append(
            Finding(
                "miswire",
                _where(at, roles),
                f"{_where(fixed, roles)} is cabled to {_where(at, roles)}; the plan has "
                f"{_where(should, roles)}",
                f"move the cable at {at[0]} port {at[1]} to {_to(at, should)}",
                detail={"fixed": list(fixed), "is_at": list(at), "planned": list(should)},
            )
        )
    # planned cables nobody saw (ends that are not already explained by a miswire)
    explained = paired | {m[1] for m in miswired}
    reported: set[Endpoint] = set()
    for a, b in sorted(plan.items()):
        fixed, loose = anchor(a, b)
        if fixed in reported or fixed in seen or fixed in explained:
            continue
        if fixed[0] in missing_devices or loose[0] in missing_devices:
            continue
        reported.add(fixed)
        occupied = seen.get(loose)
        findings.append(
            Finding(
                "missing-cable",
                _where(fixed, roles),
                f"no link at {_where(fixed, roles)} (planned to {_where(loose, roles)})"
                + (f"; that port holds {_where(occupied, roles)}" if occupied else ""),
                f"check the cable {_where(fixed, roles)} <-> {_where(loose, roles)}: seated, "
                "transceiver, port enabled (a port that is down shows as a missing cable; "
                "when every HCA of a host is missing, the host is off or its driver not loaded)",
            )
        )
    # speed and width on the cables that are right
    want = f"4x{SPEED_NAME.get(gbps, '?')}"
    slow: Counter[str] = Counter()
    for a, b in sorted(plan.items()):
        fixed, loose = anchor(a, b)
        if fixed != a or seen.get(a) != b or not rate.get(a):
            continue
        got = _rate_gbps(rate[a])
        if got is not None and got < gbps:
            slow[rate[a]] += 1
            findings.append(
                Finding(
                    "link-rate",
                    _where(a, roles),
                    f"{_where(a, roles)} <-> {_where(b, roles)} runs {rate[a]} ({got:g} Gb/s), "
                    f"the plan is {want} ({gbps} Gb/s)",
                    "reseat or replace the cable/transceiver; check the port's width and speed "
                    "settings on both ends",
                )
            )
    order = {
        "missing-device": 0,
        "unknown-device": 1,
        "looped-cable": 2,
        "swapped-cables": 3,
        "miswire": 4,
    }
    findings.sort(key=lambda f: (order.get(f.kind, 5), natural_key(f.where)))
    return _result(
        plane, plan, roles, findings, links=len(seen) // 2, devices=len(found_devices)
    ) | {"simulated": fab.simulated}


def _links(fab: IbFabric) -> int:
    """Cables seen, each once (a link appears from both of its ends)."""
    ends = {
        tuple(sorted([(nid, p), (rid, rp)]))
        for nid, n in fab.nodes.items()
        for p, (rid, rp, _) in n.links.items()
    }
    return len(ends)


def _result(
    plane: int,
    plan: dict[Endpoint, Endpoint],
    roles: dict[str, str],
    findings: list[Finding],
    *,
    links: int,
    devices: int,
) -> dict[str, Any]:
    return {
        "plane": plane + 1,
        "planned_cables": len(plan) // 2,
        "discovered_links": links,
        "planned_devices": len(roles),
        "discovered_devices": devices,
        "findings": [f.as_dict() for f in findings],
        "ok": not findings,
        "simulated": False,
    }
