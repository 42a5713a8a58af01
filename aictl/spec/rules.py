"""Stage 1 cross-field rules: what a schema alone cannot say about a spec.

Each rule appends a Problem with the key path it concerns; the loader turns paths into lines.
All rules run, so a user sees every problem in one pass.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from aictl.errors import Problem

if TYPE_CHECKING:
    from ipaddress import IPv4Network

    from aictl.spec.loader import PathKey
    from aictl.spec.models import ClusterSpec, NodeProfile


def hostnames(spec: ClusterSpec) -> list[str]:
    """Node hostnames in cabling order."""
    if spec.nodes.entries is not None:
        return [n.name for n in spec.nodes.entries]
    assert spec.nodes.count is not None
    return [spec.nodes.hostname.format(n=i) for i in range(1, spec.nodes.count + 1)]


def node_profiles(spec: ClusterSpec) -> list[NodeProfile]:
    """Each node's own profile (its entry's, else the default), in cabling order."""
    default = spec.nodes.profile
    if spec.nodes.entries is None:
        assert spec.nodes.count is not None
        return [spec.node_profiles[default]] * spec.nodes.count
    return [spec.node_profiles[n.profile or default] for n in spec.nodes.entries]


def rail_count(spec: ClusterSpec) -> int:
    """Rails = compute NICs of the default profile (rules make every profile agree).

    An unknown default profile is reported by the rules; meanwhile any profile answers.
    """
    prof = spec.node_profiles.get(spec.nodes.profile) or next(iter(spec.node_profiles.values()))
    return len(prof.compute_nics.rails)


def rail_mtu(spec: ClusterSpec) -> int:
    """Netdev MTU of the rails: the spec's, or the transport's usual value."""
    cf = spec.compute_fabric
    if cf.rail_mtu is not None:
        return cf.rail_mtu
    return 9000 if cf.transport == "roce" else 4092


def rail_subnets(spec: ClusterSpec) -> list[IPv4Network]:
    """Per-rail subnets: given, or carved in order from the supernet."""
    a = spec.addressing
    if a.rails is not None:
        return list(a.rails)
    assert a.rail_supernet is not None
    if a.rail_prefix < a.rail_supernet.prefixlen:
        return []
    subnets = a.rail_supernet.subnets(new_prefix=a.rail_prefix)
    return [
        net
        for _, net in zip(
            range(rail_count(spec) * spec.compute_fabric.planes), subnets, strict=False
        )
    ]


class _Rules:
    def __init__(self, spec: ClusterSpec, source: str, lines: dict[PathKey, int]) -> None:
        self.spec, self.source, self.lines = spec, source, lines
        self.problems: list[Problem] = []

    def add(self, path: PathKey, message: str, hint: str = "") -> None:
        from aictl.spec.loader import _dotted, line_of

        self.problems.append(
            Problem(
                message,
                field=_dotted(path),
                file=self.source,
                line=line_of(self.lines, path),
                hint=hint,
            )
        )

    def run(self) -> list[Problem]:
        self.profiles()
        self.nodes()
        self.fabric()
        self.ethernet()
        self.addressing()
        self.later_stages()
        self.render_inputs()
        return self.problems

    def render_inputs(self) -> None:
        """Mistakes that would otherwise only show on a device."""
        s = self.spec
        cf = s.compute_fabric
        mtu = rail_mtu(s)
        if cf.transport == "roce" and mtu < 4200:
            self.add(
                ("compute_fabric", "rail_mtu"),
                f"RoCE rail MTU {mtu} gives an RDMA MTU below 4096",
                "RDMA MTU 4096 needs a netdev MTU of at least 4192; use 4200 or 9000",
            )
        if mtu > cf.switch_mtu:
            self.add(
                ("compute_fabric", "rail_mtu"),
                f"rail MTU {mtu} exceeds the switch port MTU {cf.switch_mtu}",
                "hosts cannot send frames the fabric drops",
            )
        if s.kubernetes.pod_mtu > mtu:
            self.add(
                ("kubernetes", "pod_mtu"),
                f"pod MTU {s.kubernetes.pod_mtu} exceeds the host rail MTU {mtu}",
                "a macvlan or IPoIB child cannot exceed its parent; use 0 to inherit",
            )
        if cf.transport == "roce" and cf.bgp == "numbered" and s.addressing.p2p is None:
            self.add(
                ("compute_fabric", "bgp"),
                "numbered BGP needs addressing.p2p",
                "give a pool for the /31 links, e.g. p2p: 172.30.0.0/16",
            )
        for name, prof in sorted(s.node_profiles.items()):
            hca = prof.nccl_env.get("NCCL_IB_HCA")
            if hca is None:
                continue
            given = {d.split(":")[0] for d in hca.lstrip("=^").split(",") if d}
            rails = {n.rdma_device for n in prof.compute_nics.rails}
            if hca.startswith("^") or given != rails:
                self.add(
                    ("node_profiles", name, "nccl_env", "NCCL_IB_HCA"),
                    f"NCCL_IB_HCA {hca!r} does not name the rails "
                    f"({','.join(n.rdma_device for n in prof.compute_nics.rails)})",
                    "leave it out: aictl derives it from the rails",
                )

    def profiles(self) -> None:
        s = self.spec
        if s.nodes.profile not in s.node_profiles:
            self.add(
                ("nodes", "profile"),
                f"unknown node profile {s.nodes.profile!r}",
                f"defined profiles: {', '.join(sorted(s.node_profiles))}",
            )
        rails = {name: len(p.compute_nics.rails) for name, p in s.node_profiles.items()}
        if len(set(rails.values())) > 1:
            self.add(
                ("node_profiles",),
                "node profiles have different rail counts: "
                + ", ".join(f"{k}={v}" for k, v in sorted(rails.items())),
                "every node plugs one NIC into every rail; give all profiles the same NIC count",
            )
        for name, prof in sorted(s.node_profiles.items()):
            self.profile(name, prof)

    def profile(self, name: str, prof: NodeProfile) -> None:
        base: PathKey = ("node_profiles", name)
        nics = prof.compute_nics.rails
        for field in ("rdma_device", "netdev"):
            seen = Counter(getattr(n, field) for n in nics)
            for i, nic in enumerate(nics):
                if seen[getattr(nic, field)] > 1:
                    self.add(
                        (*base, "compute_nics", "rails", i, field),
                        f"{field} {getattr(nic, field)!r} is used by more than one rail",
                        "each rail is a distinct NIC",
                    )
        for i, nic in enumerate(nics):
            for j, gpu in enumerate(nic.gpus):
                if not 0 <= gpu < prof.gpu.count:
                    self.add(
                        (*base, "compute_nics", "rails", i, "gpus", j),
                        f"GPU index {gpu} does not exist (the node has {prof.gpu.count} GPUs)",
                        f"use 0..{prof.gpu.count - 1}",
                    )
        members = prof.storage_nics.netdevs
        clash = set(members) & {n.netdev for n in nics}
        if clash:
            self.add(
                (*base, "storage_nics", "netdevs"),
                f"netdev {sorted(clash)[0]!r} is both a rail and a bond member",
                "the bond uses the Ethernet NICs, the rails the compute NICs",
            )
        if len(set(members)) != len(members):
            self.add(
                (*base, "storage_nics", "netdevs"),
                "a bond member is listed twice",
                "list each member once",
            )
        if prof.storage_nics.bond.name in members:
            self.add(
                (*base, "storage_nics", "bond", "name"),
                "the bond has a member's name",
                "name the bond bond0 (or anything that is not a member)",
            )
        cf = self.spec.compute_fabric
        if prof.compute_nics.speed_gbps != cf.link_gbps * cf.planes:
            self.add(
                (*base, "compute_nics", "speed_gbps"),
                f"NIC speed {prof.compute_nics.speed_gbps} Gb/s does not match "
                f"{cf.planes} plane(s) x {cf.link_gbps} Gb/s links",
                "set compute_fabric.link_gbps (and planes) to what each NIC port runs at",
            )
        if cf.rails is not None and cf.rails != len(nics):
            self.add(
                ("compute_fabric", "rails"),
                f"rails is {cf.rails} but profile {name!r} has {len(nics)} compute NICs",
                "rails are the compute NICs: list one NIC per rail, or fix `rails`",
            )

    def nodes(self) -> None:
        s = self.spec
        if s.nodes.entries is None:
            return
        counts = Counter(n.name for n in s.nodes.entries)
        ips: Counter[str] = Counter()
        for n in s.nodes.entries:
            ips.update(str(ip) for ip in (n.mgmt_ip, n.bmc_ip) if ip is not None)
        for i, n in enumerate(s.nodes.entries):
            if counts[n.name] > 1:
                self.add(
                    ("nodes", "list", i, "name"),
                    f"duplicate hostname {n.name!r}",
                    "hostnames must be unique",
                )
            if n.profile is not None and n.profile not in s.node_profiles:
                self.add(
                    ("nodes", "list", i, "profile"),
                    f"unknown node profile {n.profile!r}",
                    f"defined profiles: {', '.join(sorted(s.node_profiles))}",
                )
            for field in ("mgmt_ip", "bmc_ip"):
                ip = getattr(n, field)
                if ip is not None and ips[str(ip)] > 1:
                    self.add(
                        ("nodes", "list", i, field),
                        f"address {ip} is used twice",
                        "every node needs its own address",
                    )
            if n.mgmt_ip is not None and n.mgmt_ip not in s.addressing.management.subnet:
                self.add(
                    ("nodes", "list", i, "mgmt_ip"),
                    f"{n.mgmt_ip} is outside the management subnet "
                    f"{s.addressing.management.subnet}",
                    "pick an address in the subnet",
                )
            if n.bmc_ip is not None and s.addressing.bmc and n.bmc_ip not in s.addressing.bmc:
                self.add(
                    ("nodes", "list", i, "bmc_ip"),
                    f"{n.bmc_ip} is outside the BMC subnet {s.addressing.bmc}",
                    "pick an address in the subnet",
                )

    def fabric(self) -> None:
        cf = self.spec.compute_fabric
        r = cf.reserved
        if r.slots >= cf.nodes_per_su:
            self.add(
                ("compute_fabric", "reserved", "slots"),
                f"{r.slots} reserved slots leave no node slot in an SU of {cf.nodes_per_su}",
                "reserve fewer slots",
            )
        rails = len(next(iter(self.spec.node_profiles.values())).compute_nics.rails)
        if r.ports > r.slots * rails:
            self.add(
                ("compute_fabric", "reserved", "ports"),
                f"{r.ports} reserved ports do not fit in {r.slots} slot(s) x {rails} rails",
                "a reserved slot has one leaf port per rail",
            )

    def ethernet(self) -> None:
        e = self.spec.ethernet
        members = max(len(p.storage_nics.netdevs) for p in self.spec.node_profiles.values())
        per_tor = -(-members // 2) if e.mode == "mlag" else members
        if e.nodes_per_tor * per_tor > e.tor_ports:
            self.add(
                ("ethernet", "nodes_per_tor"),
                f"{e.nodes_per_tor} nodes x {per_tor} member(s) need "
                f"{e.nodes_per_tor * per_tor} ToR ports, the ToR has {e.tor_ports}",
                f"at most {e.tor_ports // per_tor} nodes per ToR",
            )
        isl = 2 if e.mode == "mlag" else 0
        if e.uplinks_per_tor + isl > e.tor_uplink_ports:
            self.add(
                ("ethernet", "uplinks_per_tor"),
                f"{e.uplinks_per_tor} uplinks + {isl} MLAG peer links exceed the "
                f"{e.tor_uplink_ports} uplink ports",
                "lower uplinks_per_tor",
            )

    def addressing(self) -> None:
        s = self.spec
        a = s.addressing
        names = hostnames(s)
        n_nodes = len(names)
        rails = rail_count(s) if s.nodes.profile in s.node_profiles else 0
        want = rails * s.compute_fabric.planes
        nets: list[tuple[PathKey, IPv4Network]] = [
            (("addressing", "management", "subnet"), a.management.subnet)
        ]
        if a.bmc is not None:
            nets.append((("addressing", "bmc"), a.bmc))
        nets.append((("addressing", "loopbacks"), a.loopbacks))
        if a.rails is not None:
            if rails and len(a.rails) != want:
                self.add(
                    ("addressing", "rails"),
                    f"{len(a.rails)} rail subnets for {want} rails",
                    "give one subnet per rail (and plane), in rail order",
                )
            nets += [(("addressing", "rails", i), net) for i, net in enumerate(a.rails)]
        else:
            assert a.rail_supernet is not None
            carved = rail_subnets(s)
            if len(carved) < want:
                self.add(
                    ("addressing", "rail_supernet"),
                    f"{a.rail_supernet} cannot hold {want} /{a.rail_prefix} rail subnets",
                    "use a larger supernet or a longer rail_prefix",
                )
            nets += [(("addressing", "rail_supernet"), net) for net in carved]
        for i, (path_a, net_a) in enumerate(nets):
            for path_b, net_b in nets[i + 1 :]:
                if net_a.overlaps(net_b) and path_a != path_b:
                    self.add(
                        path_b,
                        f"{net_b} overlaps {net_a} ({'.'.join(map(str, path_a))})",
                        "every network of the plan needs its own address space",
                    )
        need_mgmt = n_nodes + 1
        if a.management.subnet.num_addresses - 2 < need_mgmt:
            self.add(
                ("addressing", "management", "subnet"),
                f"{a.management.subnet} has {a.management.subnet.num_addresses - 2} host "
                f"addresses, {need_mgmt} are needed ({n_nodes} nodes + gateway)",
                f"use a /{_prefix_for(need_mgmt)} or larger",
            )
        gw = a.management.gateway
        if gw is not None and gw not in a.management.subnet:
            self.add(
                ("addressing", "management", "gateway"),
                f"gateway {gw} is outside {a.management.subnet}",
                "leave it out to use the first host",
            )
        if a.bmc is not None and a.bmc.num_addresses - 2 < n_nodes + 1:
            self.add(
                ("addressing", "bmc"),
                f"{a.bmc} is too small for {n_nodes} BMCs + gateway",
                f"use a /{_prefix_for(n_nodes + 1)} or larger",
            )
        need_rail = n_nodes * (1 + a.pod_ips_per_node) + 1
        for i, net in enumerate(rail_subnets(s)):
            if net.num_addresses - 2 < need_rail:
                path: PathKey = (
                    ("addressing", "rails", i) if a.rails else ("addressing", "rail_prefix")
                )
                self.add(
                    path,
                    f"rail subnet {net} has {net.num_addresses - 2} host addresses, "
                    f"{need_rail} are needed ({n_nodes} nodes x (1 + "
                    f"{a.pod_ips_per_node} pod addresses) + gateway)",
                    f"use a /{_prefix_for(need_rail)} or larger",
                )
                break

    def later_stages(self) -> None:
        s = self.spec
        names = set(hostnames(s))
        pkeys = Counter(p.pkey for p in s.subnet_manager.partitions)
        for i, part in enumerate(s.subnet_manager.partitions):
            if part.pkey == 0x7FFF:
                self.add(
                    ("subnet_manager", "partitions", i, "pkey"),
                    "0x7fff is the default partition",
                    "pick another PKey for a tenant",
                )
            elif pkeys[part.pkey] > 1:
                self.add(
                    ("subnet_manager", "partitions", i, "pkey"),
                    f"PKey {part.pkey:#06x} is used by more than one partition",
                    "a PKey names one partition; give each its own",
                )
            if isinstance(part.members, list):
                for j, m in enumerate(part.members):
                    if m not in names:
                        self.add(
                            ("subnet_manager", "partitions", i, "members", j),
                            f"unknown host {m!r}",
                            "list hostnames of this spec's nodes",
                        )
        for key in ("hosts",):
            for j, h in enumerate(getattr(s.subnet_manager, key)):
                if h not in names:
                    self.add(
                        ("subnet_manager", key, j),
                        f"unknown host {h!r}",
                        "list hostnames of this spec's nodes",
                    )
        for j, h in enumerate(s.kubernetes.control_plane):
            if h not in names:
                self.add(
                    ("kubernetes", "control_plane", j),
                    f"unknown host {h!r}",
                    "list hostnames of this spec's nodes",
                )


def _prefix_for(hosts: int) -> int:
    prefix = 30
    while prefix > 0 and (2 ** (32 - prefix)) - 2 < hosts:
        prefix -= 1
    return prefix


def check_spec(spec: ClusterSpec, source: str, lines: dict[PathKey, int]) -> list[Problem]:
    """Every cross-field problem of `spec` (empty when it is consistent)."""
    return _Rules(spec, source, lines).run()
