"""Stage 2: build the port-level plan from a validated spec.

`build_topology` is the stage's one entry. Its steps, in order:
  1. size the fabric (aictl/topology/sizing.py)
  2. name the switches of every plane (leaves, spines, cores)
  3. place nodes and reserved devices in SU slots, racks and address pools
  4. cable nodes to leaves, leaves to spines, spines to cores
  5. cable the storage/management Ethernet (bond members -> ToRs -> aggregation)
  6. give RoCE switches loopbacks and ASNs
Steps 1-4 run once per compute fabric (a spec may have several: an InfiniBand fabric for
the NVIDIA SUs beside a RoCE fabric for the Ascend SUs), each with the nodes whose profile
names it; their devices carry the fabric's name as a prefix when there is more than one.
The storage/management Ethernet is one for all nodes.
Everything is a pure function of the spec: same spec, same plan, same bytes.
"""

from __future__ import annotations

from math import ceil
from typing import TYPE_CHECKING

from aictl.errors import TopologyError
from aictl.spec.rules import fabric_hostnames, fabric_subnets, hostnames, rail_count
from aictl.topology.model import (
    Cable,
    FabricPlan,
    NodePlacement,
    RailNet,
    ReservedDevice,
    Switch,
    Topology,
)
from aictl.topology.profiles import resolve_all
from aictl.topology.sizing import FabricShape, SizingInput, size_fabric

if TYPE_CHECKING:
    from ipaddress import IPv4Address, IPv4Network

    from aictl.spec.models import ClusterSpec, ComputeFabric


def sizing_input(spec: ClusterSpec, fabric: str | None = None) -> SizingInput:
    """The sizing parameters a spec implies for one compute fabric (the first by default)."""
    fabric = fabric if fabric is not None else next(iter(spec.fabrics()))
    cf = spec.fabrics()[fabric]
    return SizingInput(
        nodes=len(fabric_hostnames(spec)[fabric]),
        nodes_per_su=cf.nodes_per_su,
        rails=rail_count(spec, fabric),
        link_gbps=cf.link_gbps,
        switch_ports=cf.switch_ports,
        reserved_slots=cf.reserved.slots,
        reserved_ports=cf.reserved.ports,
        planes=cf.planes,
        leaf_oversubscription=cf.oversubscription.leaf,
        spine_oversubscription=cf.oversubscription.spine,
        tiers=str(cf.tiers),
    )


def _ip(n: int) -> str:
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _w(count: int, minimum: int = 2) -> int:
    return max(minimum, len(str(count)))


class _Names:
    """Installer-readable device names (`leaf-su02-r3`, `spine-07`, `core-012`)."""

    def __init__(self, shape: FabricShape, prefix: str = "") -> None:
        self.shape = shape
        self.prefix = prefix
        self.planes = shape.inp.planes
        self.su_w = _w(shape.sus)
        self.spine_w = _w(shape.spines)
        self.pod_w = _w(shape.pods_per_rail, 1)
        self.core_w = _w(shape.cores_per_plane, 3)

    def _p(self, plane: int) -> str:
        return self.prefix + (f"p{plane + 1}-" if self.planes > 1 else "")

    def leaf(self, plane: int, su: int, rail: int, block: int) -> str:
        suffix = f"-{chr(97 + block)}" if self.shape.leaves_per_rail_per_su > 1 else ""
        return f"{self._p(plane)}leaf-su{su:0{self.su_w}d}-r{rail}{suffix}"

    def spine(self, plane: int, rail: int, pod: int, k: int) -> str:
        if self.shape.tiers == 2:
            return f"{self._p(plane)}spine-{k + 1:0{self.spine_w}d}"
        return f"{self._p(plane)}spine-r{rail}-g{pod + 1:0{self.pod_w}d}-{k + 1:0{self.spine_w}d}"

    def core(self, plane: int, group: int, j: int) -> str:
        idx = group * self.shape.cores_per_group + j
        return f"{self._p(plane)}core-{idx + 1:0{self.core_w}d}"


def build_topology(spec: ClusterSpec, *, spec_sha256: str) -> Topology:
    """Plan the whole cluster: every switch, node slot, address and cable.

    Args:
        spec: a validated cluster spec.
        spec_sha256: sha256 of the spec text, recorded for staleness checks.

    Returns:
        The frozen Topology.

    Raises:
        TopologyError: the spec is valid but cannot be built (ports, ASNs, loopbacks).
    """
    fabrics = spec.fabrics()
    several = len(fabrics) > 1
    # 1. size every fabric first: racks are numbered across all of them
    shapes = {name: _size(spec, name, several) for name in fabrics}
    npr = spec.nodes.nodes_per_rack
    racks = {
        name: sh.sus * ceil(cf.nodes_per_su / npr)
        for (name, cf), sh in zip(fabrics.items(), shapes.values(), strict=True)
    }
    rack_w = _w(sum(racks.values()))
    hosts = hostnames(spec)
    by_fabric = fabric_hostnames(spec)
    subnets = fabric_subnets(spec)
    mgmt = _pool(
        spec, "mgmt_ip", spec.addressing.management.subnet, spec.addressing.management.gateway
    )
    bmc = _pool(spec, "bmc_ip", spec.addressing.bmc, None)
    switches: list[Switch] = []
    cables: list[Cable] = []
    nodes: list[NodePlacement] = []
    reserved: list[ReservedDevice] = []
    rail_nets: list[RailNet] = []
    plans: list[FabricPlan] = []
    rack_base = 0
    for name, cf in fabrics.items():
        shape = shapes[name]
        prefix = f"{name}-" if several else ""
        names = _Names(shape, prefix)
        # 2. switches
        for plane in range(shape.inp.planes):
            switches += _fabric_switches(cf, shape, names, plane, name)
        # 3. nodes, reserved devices, addresses
        placed, res = _place(
            spec,
            cf,
            shape,
            names,
            [hosts.index(h) for h in by_fabric[name]],
            (mgmt, bmc, subnets[name]),
            (rack_base, rack_w),
            name,
        )
        nodes += placed
        reserved += res
        # 4. compute fabric cables
        cables += _node_leaf_cables(spec, cf, shape, placed, res, prefix)
        for plane in range(shape.inp.planes):
            cables += _leaf_spine_cables(shape, names, plane, cf.link_gbps, prefix)
            if shape.tiers == 3:
                cables += _spine_core_cables(shape, names, plane, cf.link_gbps, prefix)
        plans.append(FabricPlan(name, cf.transport, shape, prefix, len(rail_nets)))
        rail_nets += _rail_nets(spec, subnets[name], shape.inp.rails, len(placed), name)
        rack_base += racks[name]
    nodes.sort(key=lambda n: n.index)
    # 5. storage/management Ethernet
    eth_switches, eth_cables, tor_ports = _ethernet(spec, nodes)
    switches += eth_switches
    cables += eth_cables
    nodes = [_with_tor(n, tor_ports[n.name]) for n in nodes]
    # 6. loopbacks (RoCE fabrics, ToRs, aggregation) and the RoCE underlays' ASNs
    switches = _underlay(spec, plans, switches)
    gw_net = spec.addressing.management.subnet
    gateway = spec.addressing.management.gateway or gw_net.network_address + 1
    return Topology(
        spec=spec,
        spec_sha256=spec_sha256,
        fabrics=tuple(plans),
        switches=tuple(switches),
        nodes=tuple(nodes),
        reserved=tuple(reserved),
        cables=tuple(cables),
        rail_nets=tuple(rail_nets),
        mgmt_gateway=str(gateway),
        profiles=resolve_all(spec),
    )


def _size(spec: ClusterSpec, fabric: str, several: bool) -> FabricShape:
    """A fabric's shape; an error names the fabric when there are several."""
    try:
        return size_fabric(sizing_input(spec, fabric))
    except TopologyError as exc:
        if not several:
            raise
        where = exc.field.replace("compute_fabric", f"compute_fabrics.{fabric}", 1)
        raise TopologyError(
            f"fabric {fabric}: {exc.message}",
            hint=exc.hint,
            field=where or f"compute_fabrics.{fabric}",
        ) from None


def _fabric_switches(
    cf: ComputeFabric, shape: FabricShape, names: _Names, plane: int, fabric: str
) -> list[Switch]:
    model, k, rails = cf.switch_model, cf.switch_ports, shape.inp.rails
    out = [
        Switch(names.leaf(plane, su, r, b), "leaf", model, k, plane, su, r, fabric=fabric)
        for su in range(1, shape.sus + 1)
        for r in range(rails)
        for b in range(shape.leaves_per_rail_per_su)
    ]
    if shape.tiers == 2:
        out += [
            Switch(names.spine(plane, -1, 0, j), "spine", model, k, plane, fabric=fabric)
            for j in range(shape.spines)
        ]
        return out
    out += [
        Switch(names.spine(plane, r, g, j), "spine", model, k, plane, 0, r, g + 1, j, fabric=fabric)
        for r in range(rails)
        for g in range(shape.pods_per_rail)
        for j in range(shape.spines)
    ]
    out += [
        Switch(names.core(plane, g, j), "core", model, k, plane, group=g, fabric=fabric)
        for g in range(shape.spines)
        for j in range(shape.cores_per_group)
    ]
    return out


def _place(
    spec: ClusterSpec,
    cf: ComputeFabric,
    shape: FabricShape,
    names: _Names,
    indices: list[int],
    pools: tuple[list[str], list[str], list[IPv4Network]],
    racks: tuple[int, int],
    fabric: str,
) -> tuple[list[NodePlacement], list[ReservedDevice]]:
    """The fabric's nodes (their indices in cabling order) in its SU slots; addresses from
    the cluster's pools (management, BMC) and the fabric's rail subnets."""
    u = shape.inp.nodes_per_su
    res = cf.reserved
    per_leaf = shape.slots_per_leaf
    rails, planes = shape.inp.rails, shape.inp.planes
    npr = spec.nodes.nodes_per_rack
    racks_per_su = ceil(u / npr)
    rack_base, rack_w = racks
    entries = spec.nodes.listed
    hosts = hostnames(spec)
    mgmt, bmc, subnets = pools
    rail_base = [int(net.network_address) + 2 for net in subnets]

    def ports_at(su: int, slot: int) -> tuple[tuple[str, int], ...]:
        b, port = divmod(slot, per_leaf)
        return tuple(
            (names.leaf(p, su, r, b), port + 1) for p in range(planes) for r in range(rails)
        )

    def rack_of(su: int, slot: int) -> str:
        return f"rack{rack_base + (su - 1) * racks_per_su + slot // npr + 1:0{rack_w}d}"

    nodes: list[NodePlacement] = []
    reserved: list[ReservedDevice] = []
    j = 0  # the node's place in this fabric
    ports_left = res.ports
    for su in range(1, shape.sus + 1):
        for slot in range(u):
            if su == 1 and slot >= u - res.slots:
                n_ports = min(rails, ports_left)
                ports_left -= n_ports
                all_ports = ports_at(su, slot)
                reserved.append(
                    ReservedDevice(
                        f"{names.prefix}{res.name}-{len(reserved) + 1}",
                        su,
                        slot,
                        tuple(p for i, p in enumerate(all_ports) if i % rails < n_ports),
                        fabric,
                    )
                )
                continue
            if j >= len(indices):
                continue
            k = indices[j]
            entry = entries[k] if entries is not None else None
            nodes.append(
                NodePlacement(
                    name=hosts[k],
                    index=k,
                    profile=(
                        entry.profile if entry and entry.profile else spec.nodes.default_profile
                    ),
                    su=su,
                    slot=slot,
                    rack=(entry.rack if entry and entry.rack else rack_of(su, slot)),
                    mgmt_ip=mgmt[k],
                    bmc_ip=bmc[k] if bmc else "",
                    rail_ips=tuple(_ip(base + j) for base in rail_base),
                    leaf_ports=ports_at(su, slot),
                    tor_ports=(),
                )
            )
            j += 1
    return nodes, reserved


def _pool(
    spec: ClusterSpec, field: str, net: IPv4Network | None, gateway: IPv4Address | None
) -> list[str]:
    """One address per node: explicit ones kept, the rest allocated in order, skipping used."""
    if net is None:
        return []
    entries = spec.nodes.listed
    n = len(hostnames(spec))
    fixed = [getattr(e, field) for e in entries] if entries is not None else [None] * n
    used = {int(ip) for ip in fixed if ip is not None}
    gw = int(gateway) if gateway is not None else int(net.network_address) + 1
    used.add(gw)
    nxt = int(net.network_address) + 1
    last = int(net.broadcast_address) - 1
    out: list[str] = []
    for ip in fixed:
        if ip is not None:
            out.append(str(ip))
            continue
        while nxt in used:
            nxt += 1
        if nxt > last:
            raise TopologyError(
                f"{net} has no free address left for every node ({field})",
                hint="use a larger subnet",
                field=f"addressing.{field}",
            )
        out.append(_ip(nxt))
        used.add(nxt)
    return out


def _node_leaf_cables(
    spec: ClusterSpec,
    cf: ComputeFabric,
    shape: FabricShape,
    nodes: list[NodePlacement],
    reserved: list[ReservedDevice],
    prefix: str,
) -> list[Cable]:
    from aictl.topology.profiles import _rails

    gbps = cf.link_gbps
    rails, planes = shape.inp.rails, shape.inp.planes
    # a PCIe NIC's RDMA device, or an NPU's integrated port (npu<i>)
    devices = {
        name: [nic.rdma_device for nic in _rails(p)] for name, p in spec.node_profiles.items()
    }
    total = shape.node_leaf_per_plane * planes
    w = _w(total, 5)
    out: list[Cable] = []
    i = 0
    for node in nodes:
        devs = devices[node.profile]
        for idx, (leaf, port) in enumerate(node.leaf_ports):
            plane, rail = divmod(idx, rails)
            i += 1
            nic = devs[rail] if planes == 1 else f"{devs[rail]}/p{plane + 1}"
            cid = f"{prefix}nl-{i:0{w}d}"
            out.append(Cable(cid, "node-leaf", node.name, nic, leaf, str(port), gbps))
    for dev in reserved:
        for j, (leaf, port) in enumerate(dev.leaf_ports):
            i += 1
            cid = f"{prefix}nl-{i:0{w}d}"
            out.append(Cable(cid, "node-leaf", dev.name, f"p{j + 1}", leaf, str(port), gbps))
    return out


def _leaf_spine_cables(
    shape: FabricShape, names: _Names, plane: int, gbps: int, prefix: str = ""
) -> list[Cable]:
    m, up, per_leaf = shape.links_leaf_spine, shape.leaf_uplinks, shape.slots_per_leaf
    rails, lpr = shape.inp.rails, shape.leaves_per_rail_per_su
    w = _w(shape.leaf_spine_per_plane * shape.inp.planes, 5)
    base = plane * shape.leaf_spine_per_plane
    out: list[Cable] = []
    i = base
    for su in range(1, shape.sus + 1):
        for r in range(rails):
            for b in range(lpr):
                leaf = names.leaf(plane, su, r, b)
                if shape.tiers == 2:
                    li = ((su - 1) * rails + r) * lpr + b
                    pod = 0
                else:
                    pod, su_in_pod = divmod(su - 1, shape.sus_per_pod)
                    li = su_in_pod * lpr + b
                for j in range(up):
                    k, link = divmod(j, m)
                    i += 1
                    spine = names.spine(plane, r, pod, k)
                    out.append(
                        Cable(
                            f"{prefix}ls-{i:0{w}d}",
                            "leaf-spine",
                            leaf,
                            str(per_leaf + j + 1),
                            spine,
                            str(li * m + link + 1),
                            gbps,
                        )
                    )
    return out


def _spine_core_cables(
    shape: FabricShape, names: _Names, plane: int, gbps: int, prefix: str = ""
) -> list[Cable]:
    m2, up2 = shape.links_spine_core, shape.spine_uplinks
    down = shape.leaves_per_pod * shape.links_leaf_spine
    pods = shape.pods_per_rail
    w = _w(shape.spine_core_per_plane * shape.inp.planes, 5)
    out: list[Cable] = []
    i = plane * shape.spine_core_per_plane
    for r in range(shape.inp.rails):
        for g in range(pods):
            pod_index = r * pods + g
            for k in range(shape.spines):
                spine = names.spine(plane, r, g, k)
                for u in range(up2):
                    j, link = divmod(u, m2)
                    i += 1
                    out.append(
                        Cable(
                            f"{prefix}sc-{i:0{w}d}",
                            "spine-core",
                            spine,
                            str(down + u + 1),
                            names.core(plane, k, j),
                            str(pod_index * m2 + link + 1),
                            gbps,
                        )
                    )
    return out


def _ethernet(
    spec: ClusterSpec, nodes: list[NodePlacement]
) -> tuple[list[Switch], list[Cable], dict[str, tuple[tuple[str, str], ...]]]:
    e = spec.ethernet
    groups = ceil(len(nodes) / e.nodes_per_tor)
    gw = _w(groups)
    aw = _w(e.aggregation_switches)
    switches: list[Switch] = []
    cables: list[Cable] = []
    tor_ports: dict[str, tuple[tuple[str, str], ...]] = {}
    agg_next = [0] * e.aggregation_switches
    members_max = max(len(p.storage_nics.netdevs) for p in spec.node_profiles.values())
    per_tor = -(-members_max // 2) if e.mode == "mlag" else members_max
    n_total = len(nodes) * members_max + groups * (
        e.uplinks_per_tor * (2 if e.mode == "mlag" else 1) + 2
    )
    w = _w(n_total, 5)
    counter = 0

    def add(tier: str, a: str, ap: str, b: str, bp: str, gbps: int) -> None:
        nonlocal counter
        counter += 1
        cables.append(Cable(f"e-{counter:0{w}d}", tier, a, ap, b, bp, gbps))

    for g in range(groups):
        tors = (
            [f"tor-{g + 1:0{gw}d}a", f"tor-{g + 1:0{gw}d}b"]
            if e.mode == "mlag"
            else [f"tor-{g + 1:0{gw}d}"]
        )
        switches += [Switch(t, "tor", e.tor_model, e.tor_ports + e.tor_uplink_ports) for t in tors]
        for j, node in enumerate(nodes[g * e.nodes_per_tor : (g + 1) * e.nodes_per_tor]):
            prof = spec.node_profiles[node.profile].storage_nics
            mine: list[tuple[str, str]] = []
            for i, member in enumerate(prof.netdevs):
                if e.mode == "mlag":
                    tor, port = tors[i % 2], j * per_tor + i // 2 + 1
                else:
                    tor, port = tors[0], j * per_tor + i + 1
                add("node-tor", node.name, member, tor, f"swp{port}", prof.speed_gbps)
                mine.append((tor, f"swp{port}"))
            tor_ports[node.name] = tuple(mine)
        if e.mode == "mlag":
            for i in range(2):
                peer = f"swp{e.tor_ports + e.uplinks_per_tor + i + 1}"
                add("tor-peer", tors[0], peer, tors[1], peer, e.uplink_gbps)
        for t_i, tor in enumerate(tors):
            for u in range(e.uplinks_per_tor):
                agg = (u + t_i) % e.aggregation_switches
                agg_next[agg] += 1
                add(
                    "tor-uplink",
                    tor,
                    f"swp{e.tor_ports + u + 1}",
                    f"agg-{agg + 1:0{aw}d}",
                    f"swp{agg_next[agg]}",
                    e.uplink_gbps,
                )
    switches += [
        Switch(f"agg-{a + 1:0{aw}d}", "agg", e.aggregation_model, agg_next[a])
        for a in range(e.aggregation_switches)
    ]
    return switches, cables, tor_ports


def _with_tor(node: NodePlacement, ports: tuple[tuple[str, str], ...]) -> NodePlacement:
    return NodePlacement(
        node.name,
        node.index,
        node.profile,
        node.su,
        node.slot,
        node.rack,
        node.mgmt_ip,
        node.bmc_ip,
        node.rail_ips,
        node.leaf_ports,
        ports,
    )


def _underlay(spec: ClusterSpec, plans: list[FabricPlan], switches: list[Switch]) -> list[Switch]:
    asn = spec.addressing.asn
    lo = spec.addressing.loopbacks
    roce = {p.name: p for p in plans if p.transport == "roce"}
    routed = [s for s in switches if s.role in ("tor", "agg") or s.fabric in roce]
    if len(routed) > lo.num_addresses - 2:
        raise TopologyError(
            f"loopbacks {lo} hold {lo.num_addresses - 2} addresses, the plan has "
            f"{len(routed)} switches that need one",
            hint="use a larger loopbacks prefix",
            field="addressing.loopbacks",
        )
    spine_asn: dict[str, int] = {}
    if roce:
        # leaves get their own ASNs, counted across every RoCE fabric; spines share theirs
        # within a fabric (fabrics are not connected to each other, so they may repeat)
        leaves = sum(1 for s in switches if s.role == "leaf" and s.fabric in roce)
        leaf_range = range(asn.leaf_start, asn.leaf_start + leaves)
        for s in switches:
            if s.role == "spine" and s.fabric in roce:
                shape = roce[s.fabric].shape
                offset = s.rail * shape.pods_per_rail + s.pod - 1 if shape.tiers == 3 else 0
                spine_asn[s.name] = asn.spine + offset
        if leaf_range.stop - 1 > 4294967295:
            raise TopologyError(
                f"{leaves} leaf ASNs from {asn.leaf_start} exceed 32 bits",
                hint="lower addressing.asn.leaf_start",
                field="addressing.asn.leaf_start",
            )
        clash = sorted(a for a in ({asn.core} | set(spine_asn.values())) if a in leaf_range)
        if clash:
            raise TopologyError(
                f"leaf ASNs {asn.leaf_start}..{leaf_range.stop - 1} include the "
                f"spine/core ASN {clash[0]}",
                hint="move addressing.asn.leaf_start above the spine and core ASNs",
                field="addressing.asn.leaf_start",
            )
    base = int(lo.network_address) + 1
    index = {s.name: i for i, s in enumerate(routed)}
    out: list[Switch] = []
    li = 0
    for s in switches:
        a = 0
        if s.fabric in roce and s.role == "leaf":
            a = asn.leaf_start + li
            li += 1
        elif s.fabric in roce and s.role == "spine":
            a = spine_asn[s.name]
        elif s.fabric in roce and s.role == "core":
            a = asn.core
        loopback = _ip(base + index[s.name]) if s.name in index else ""
        out.append(
            Switch(
                s.name,
                s.role,
                s.model,
                s.ports,
                s.plane,
                s.su,
                s.rail,
                s.pod,
                s.group,
                a,
                loopback,
                s.fabric,
            )
        )
    return out


def _rail_nets(
    spec: ClusterSpec, subnets: list[IPv4Network], rails: int, n_nodes: int, fabric: str
) -> list[RailNet]:
    pods = spec.addressing.pod_ips_per_node
    out: list[RailNet] = []
    for i, net in enumerate(subnets):
        plane, rail = divmod(i, rails)
        base = int(net.network_address)
        pod_range = (
            (_ip(base + 2 + n_nodes), _ip(base + 1 + n_nodes * (1 + pods))) if pods else None
        )
        out.append(RailNet(rail, plane, str(net), _ip(base + 1), pod_range, fabric))
    return out
