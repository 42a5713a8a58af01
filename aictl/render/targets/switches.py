"""Render target `switches`: RoCE fabric switches (FRR config and NVUE commands) and the
storage/management ToRs (NVUE: LACP bonds per node, MLAG pairs, uplinks)."""

from __future__ import annotations

import re
from collections import defaultdict
from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Any

from aictl.artifact import Artifact
from aictl.errors import RenderError
from aictl.natsort import natural_key
from aictl.render.env import render
from aictl.topology import qos

if TYPE_CHECKING:
    from aictl.topology.model import Cable, Switch, Topology

HOST_VLAN_BASE = 10  # rail r hosts are in VLAN 10 + r on the rail-r leaves
NEIGHBOR_TABLE = 10  # kernel table Redistribute Neighbor fills with host /32s
TOR_MTU = 9216  # switch side of the bonds: above any host MTU
MLAG_MAC_BASE = 0x443839FF0000  # Cumulus' range for MLAG system MACs, one per ToR pair


def _ip(n: int) -> str:
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def port_ranges(ports: list[str]) -> str:
    """`swp1,swp2,swp3,swp7` -> `swp1-3,swp7` (NVUE interface ranges)."""
    nums = sorted({int(re.sub(r"\D", "", p)) for p in ports})
    out: list[str] = []
    start = prev = nums[0]
    for n in [*nums[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(f"swp{start}" if start == prev else f"swp{start}-{prev}")
        if n is not None:
            start = prev = n
    return ",".join(out)


def _p2p(topo: Topology, links: list[Cable], offset: int = 0) -> dict[str, int]:
    """A /31 per link from addressing.p2p; `offset` links are taken by earlier fabrics."""
    pool = topo.spec.addressing.p2p
    assert pool is not None  # the spec rules require it for numbered BGP
    if (offset + len(links)) * 2 > pool.num_addresses:
        raise RenderError(
            f"addressing.p2p {pool} holds {pool.num_addresses // 2} /31 links, the fabric "
            f"has {offset + len(links)}",
            hint="use a larger pool",
            field="addressing.p2p",
        )
    return {c.id: int(pool.network_address) + 2 * (offset + i) for i, c in enumerate(links)}


def _fabric(topo: Topology, fabric: str, p2p_offset: int = 0) -> list[Artifact]:
    """One RoCE fabric's switches (`topo` is its view: its switches, cables, rail nets)."""
    cf = topo.spec.fabrics()[fabric]
    unnumbered = cf.bgp == "unnumbered"
    devices = {s.name: s for s in topo.switches if s.role in ("leaf", "spine", "core")}
    links = [c for c in topo.cables if c.tier in ("leaf-spine", "spine-core")]
    p2p = {} if unnumbered else _p2p(topo, links, p2p_offset)
    ports: dict[str, list[dict[str, Any]]] = defaultdict(list)
    hosts: dict[str, list[str]] = defaultdict(list)
    for c in links:
        base = p2p.get(c.id, 0)
        ports[c.a_device].append(
            {
                "ifname": f"swp{c.a_port}",
                "peer": c.b_device,
                "peer_port": f"swp{c.b_port}",
                "ip": _ip(base),
                "peer_ip": _ip(base + 1),
            }
        )
        ports[c.b_device].append(
            {
                "ifname": f"swp{c.b_port}",
                "peer": c.a_device,
                "peer_port": f"swp{c.a_port}",
                "ip": _ip(base + 1),
                "peer_ip": _ip(base),
            }
        )
    for c in topo.cables:
        if c.tier == "node-leaf":
            hosts[c.b_device].append(f"swp{c.b_port}")
    out: list[Artifact] = []
    for name, sw in devices.items():
        mine = sorted(ports[name], key=lambda p: natural_key(p["ifname"]))
        host_vlan = _host_vlan(topo, sw, hosts[name]) if sw.role == "leaf" else None
        all_ports = [p["ifname"] for p in mine] + hosts[name]
        ctx = {
            "cluster": topo.name,
            "sw": sw,
            "ports": mine,
            "unnumbered": unnumbered,
            "host_vlan": host_vlan,
            "mtu": cf.switch_mtu,
            "port_range": port_ranges(all_ports),
            "priority": qos.ROCE_PRIORITY,
            "cnp_priority": qos.CNP_PRIORITY,
            "dscp": qos.ROCE_DSCP,
        }
        out.append(
            Artifact(f"switches/{name}/frr.conf", render("switch/frr/frr.conf.j2", **ctx).encode())
        )
        out.append(
            Artifact(
                f"switches/{name}/nvue.txt", render("switch/nvue/fabric.txt.j2", **ctx).encode()
            )
        )
    return out


def _host_vlan(topo: Topology, sw: Switch, host_ports: list[str]) -> dict[str, Any] | None:
    if not host_ports:
        return None
    net = topo.rail_nets[sw.plane * topo.rails + sw.rail]
    subnet = IPv4Network(net.subnet)
    return {
        "vid": HOST_VLAN_BASE + sw.rail,
        "gateway": net.gateway,
        "prefix": subnet.prefixlen,
        "subnet": str(subnet),
        "ports": port_ranges(host_ports),
        "table": NEIGHBOR_TABLE,
    }


def _tors(topo: Topology) -> list[Artifact]:
    e = topo.spec.ethernet
    tors = {s.name: s for s in topo.switches if s.role == "tor"}
    bonds: dict[str, dict[str, list[Cable]]] = defaultdict(dict)
    peer_ports: dict[str, list[str]] = defaultdict(list)
    uplinks: dict[str, list[dict[str, str]]] = defaultdict(list)
    for c in topo.cables:
        if c.tier == "node-tor":
            bonds[c.b_device].setdefault(c.a_device, []).append(c)
        elif c.tier == "tor-peer":
            peer_ports[c.a_device].append(c.a_port)
            peer_ports[c.b_device].append(c.b_port)
        elif c.tier == "tor-uplink":
            uplinks[c.a_device].append(
                {"port": c.a_port, "peer": c.b_device, "peer_port": c.b_port}
            )
    lacp = {name: p.bond.lacp_rate for name, p in topo.profiles.items()}
    profile = {n.name: n.profile for n in topo.nodes}
    out: list[Artifact] = []
    for name, sw in tors.items():
        pair = name[:-1] if e.mode == "mlag" else name
        peer = tors.get(pair + ("b" if name.endswith("a") else "a")) if e.mode == "mlag" else None
        rows: list[dict[str, Any]] = []
        for j, (node, cables) in enumerate(bonds[name].items()):
            for c in cables:
                rows.append(
                    {
                        "node": node,
                        "member": c.a_port,
                        "port": c.b_port,
                        "bond": f"bond{j + 1}",
                        "mlag_id": j + 1,
                        "speed": c.gbps,
                    }
                )
        group = int(re.sub(r"\D", "", pair))
        ctx = {
            "cluster": topo.name,
            "sw": sw,
            "peer": peer,
            "vlan": e.vlan,
            "bonds": rows,
            "uplinks": uplinks[name],
            "peerlink": port_ranges(peer_ports[name]) if peer_ports[name] else "",
            "mlag_mac": _mac(MLAG_MAC_BASE + group),
            "mlag_priority": 1000 if name.endswith("a") else 2000,
            "lacp_rate": lacp[profile[rows[0]["node"]]] if rows else "fast",
            "mtu": TOR_MTU,
        }
        out.append(
            Artifact(f"switches/{name}/nvue.txt", render("switch/nvue/tor.txt.j2", **ctx).encode())
        )
    return out


def _mac(n: int) -> str:
    return ":".join(f"{(n >> s) & 255:02x}" for s in range(40, -8, -8))


def render_switches(topo: Topology) -> list[Artifact]:
    """RoCE fabric switch configs (none for InfiniBand, which UFM/opensm manage) and ToRs;
    a plan of several fabrics renders each RoCE fabric from its own view (its numbered-BGP
    /31s after the previous fabric's)."""
    out: list[Artifact] = []
    taken = 0
    for f in topo.fabrics:
        if f.transport != "roce":
            continue
        view = topo.view(f.name)
        out += _fabric(view, f.name, taken)
        taken += sum(1 for c in view.cables if c.tier in ("leaf-spine", "spine-core"))
    return out + _tors(topo)
