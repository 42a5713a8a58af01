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
    listed = spec.nodes.listed
    if listed is not None:
        return [n.name for n in listed]
    assert spec.nodes.count is not None
    return [spec.nodes.hostname.format(n=i) for i in range(1, spec.nodes.count + 1)]


def node_profiles(spec: ClusterSpec) -> list[NodeProfile]:
    """Each node's own profile (its entry's, else the default), in cabling order."""
    default = spec.nodes.default_profile
    listed = spec.nodes.listed
    if listed is None:
        assert spec.nodes.count is not None
        return [spec.node_profiles[default]] * spec.nodes.count
    return [spec.node_profiles[n.profile or default] for n in listed]


def profile_rails(prof: NodeProfile) -> int:
    """Rails of a profile: its PCIe compute NICs, or one per NPU for integrated ports."""
    if prof.compute_nics.attach == "integrated":
        return prof.gpu.count
    return len(prof.compute_nics.rails)


def fabric_profiles(spec: ClusterSpec, fabric: str) -> list[str]:
    """The profiles whose rails attach to `fabric`, in name order."""
    return sorted(n for n in spec.node_profiles if spec.fabric_name(n) == fabric)


def rail_count(spec: ClusterSpec, fabric: str | None = None) -> int:
    """Rails of a fabric (the first when none is named) = compute NICs of its profiles (rules
    make every profile of a fabric agree): the default profile's when it is on the fabric.

    An unknown default profile is reported by the rules; meanwhile any profile answers.
    """
    fabric = fabric if fabric is not None else next(iter(spec.fabrics()))
    names = fabric_profiles(spec, fabric)
    default = spec.nodes.default_profile
    if default in names:
        return profile_rails(spec.node_profiles[default])
    if names:
        return profile_rails(spec.node_profiles[names[0]])
    prof = spec.node_profiles.get(default) or next(iter(spec.node_profiles.values()))
    return profile_rails(prof)


def rails_text(spec: ClusterSpec) -> str:
    """The rails in words: `4`, or per fabric `4 (ib) + 8 (roce)`."""
    fabrics = spec.fabrics()
    if len(fabrics) == 1:
        return str(rail_count(spec))
    return " + ".join(f"{rail_count(spec, f)} ({f})" for f in fabrics)


def transports(spec: ClusterSpec) -> str:
    """`infiniband`, `roce`, or both joined: `infiniband+roce`."""
    return "+".join(sorted({cf.transport for cf in spec.fabrics().values()}))


def total_rails(spec: ClusterSpec) -> int:
    """Rails over every fabric (a node has its own fabric's)."""
    return sum(rail_count(spec, f) for f in spec.fabrics())


def rail_mtu(spec: ClusterSpec, fabric: str | None = None) -> int:
    """Netdev MTU of a fabric's rails: the spec's, or the transport's usual value."""
    fabrics = spec.fabrics()
    cf = fabrics[fabric] if fabric in fabrics else next(iter(fabrics.values()))
    if cf.rail_mtu is not None:
        return cf.rail_mtu
    return 9000 if cf.transport == "roce" else 4092


def fabric_subnets(spec: ClusterSpec) -> dict[str, list[IPv4Network]]:
    """Per fabric, its per-rail subnets (rails x planes, plane 0 first): the given list cut
    fabric by fabric, or carved in fabric order from the supernet."""
    a = spec.addressing
    wants = {f: rail_count(spec, f) * cf.planes for f, cf in spec.fabrics().items()}
    if a.rails is not None:
        pool = iter(a.rails)
    else:
        assert a.rail_supernet is not None
        if a.rail_prefix < a.rail_supernet.prefixlen:
            return {f: [] for f in wants}
        pool = a.rail_supernet.subnets(new_prefix=a.rail_prefix)
    out: dict[str, list[IPv4Network]] = {}
    for f, want in wants.items():
        out[f] = [net for _, net in zip(range(want), pool, strict=False)]
    return out


def rail_subnets(spec: ClusterSpec) -> list[IPv4Network]:
    """Every rail subnet of the plan, fabric by fabric (a one-fabric spec: in rail order)."""
    return [net for nets in fabric_subnets(spec).values() for net in nets]


def fabric_hostnames(spec: ClusterSpec) -> dict[str, list[str]]:
    """Per fabric, its nodes in cabling order."""
    out: dict[str, list[str]] = {f: [] for f in spec.fabrics()}
    default = spec.nodes.default_profile
    entries = spec.nodes.listed
    for i, name in enumerate(hostnames(spec)):
        prof = (entries[i].profile if entries is not None else None) or default
        out.setdefault(spec.fabric_name(prof), []).append(name)
    return out


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
        self.fabrics()
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
        host_rail_mtus = []
        for fname, cf in s.fabrics().items():
            base = s.fabric_path(fname)
            mtu = rail_mtu(s, fname)
            profiles = fabric_profiles(s, fname)
            if any(s.node_profiles[p].compute_nics.attach == "pcie" for p in profiles):
                host_rail_mtus.append(mtu)
            if cf.transport == "roce" and mtu < 4200:
                self.add(
                    (*base, "rail_mtu"),
                    f"RoCE rail MTU {mtu} gives an RDMA MTU below 4096",
                    "RDMA MTU 4096 needs a netdev MTU of at least 4192; use 4200 or 9000",
                )
            if mtu > cf.switch_mtu:
                self.add(
                    (*base, "rail_mtu"),
                    f"rail MTU {mtu} exceeds the switch port MTU {cf.switch_mtu}",
                    "hosts cannot send frames the fabric drops",
                )
            if cf.transport == "roce" and cf.bgp == "numbered" and s.addressing.p2p is None:
                self.add(
                    (*base, "bgp"),
                    "numbered BGP needs addressing.p2p",
                    "give a pool for the /31 links, e.g. p2p: 172.30.0.0/16",
                )
        mtu = min(host_rail_mtus, default=0)
        if host_rail_mtus and s.kubernetes.pod_mtu > mtu:
            self.add(
                ("kubernetes", "pod_mtu"),
                f"pod MTU {s.kubernetes.pod_mtu} exceeds the host rail MTU {mtu}",
                "a macvlan or IPoIB child cannot exceed its parent; use 0 to inherit",
            )
        for name, prof in sorted(s.node_profiles.items()):
            if prof.gpu.vendor == "huawei":
                for key in sorted(prof.nccl_env):
                    if not key.startswith("HCCL_"):
                        self.add(
                            ("node_profiles", name, "nccl_env", key),
                            f"{key} is not an HCCL setting (the profile is Ascend: HCCL reads "
                            "its own environment, not NCCL's)",
                            "give HCCL_* variables for an Ascend profile",
                        )
                continue
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

    def fabrics(self) -> None:
        """Which fabric each profile names, and what several fabrics need."""
        s = self.spec
        fabrics = s.fabrics()
        several = s.compute_fabrics is not None and len(fabrics) > 1
        for name, prof in sorted(s.node_profiles.items()):
            path: PathKey = ("node_profiles", name, "fabric")
            if prof.fabric is None:
                if several:
                    self.add(
                        path,
                        f"profile {name!r} names no compute fabric; the spec has {len(fabrics)}",
                        f"fabrics: {', '.join(fabrics)}",
                    )
            elif prof.fabric not in fabrics:
                one = " (a spec with one compute_fabric calls it 'compute')"
                self.add(
                    path,
                    f"unknown compute fabric {prof.fabric!r}",
                    f"fabrics: {', '.join(fabrics)}" + (one if s.compute_fabrics is None else ""),
                )
        ib = [f for f, cf in fabrics.items() if cf.transport == "infiniband"]
        if len(ib) > 1:
            self.add(
                ("compute_fabrics", ib[1], "transport"),
                f"{len(ib)} InfiniBand fabrics ({', '.join(ib)}): each would need its own "
                "subnet manager, which aictl does not plan yet",
                "put the InfiniBand node groups on one fabric, or make the others RoCE",
            )
        used = fabric_hostnames(s)
        for f in fabrics:
            if not used.get(f):
                self.add(
                    s.fabric_path(f),
                    f"no node is on compute fabric {f!r}",
                    f"give a node profile `fabric: {f}` and nodes of it, or remove the fabric",
                )

    def profiles(self) -> None:
        s = self.spec
        if s.nodes.profile is not None and s.nodes.profile not in s.node_profiles:
            self.add(
                ("nodes", "profile"),
                f"unknown node profile {s.nodes.profile!r}",
                f"defined profiles: {', '.join(sorted(s.node_profiles))}",
            )
        for fabric in s.fabrics():
            rails = {n: profile_rails(s.node_profiles[n]) for n in fabric_profiles(s, fabric)}
            if len(set(rails.values())) > 1:
                where = "" if s.compute_fabrics is None else f" on fabric {fabric!r}"
                self.add(
                    ("node_profiles",),
                    f"node profiles{where} have different rail counts: "
                    + ", ".join(f"{k}={v}" for k, v in sorted(rails.items())),
                    "every node plugs one NIC into every rail of its fabric; give all its "
                    "profiles the same NIC count (or put them on fabrics of their own)",
                )
        for name, prof in sorted(s.node_profiles.items()):
            self.profile(name, prof)
            self.accelerator(name, prof)

    def accelerator(self, name: str, prof: NodeProfile) -> None:
        """The vendor's own fields, interconnect and port attachment agree."""
        base: PathKey = ("node_profiles", name, "gpu")
        g = prof.gpu
        fits = {
            "nvidia": ("nvswitch", "nvlink", "pcie"),
            "amd": ("xgmi", "pcie"),
            "huawei": ("hccs", "pcie"),
            "kunlunxin": ("xpu-link", "pcie"),
        }[g.vendor]
        if g.vendor != "nvidia":
            if g.nvswitch:
                self.add(
                    (*base, "nvswitch"),
                    f"a {g.vendor} board has no NVSwitch",
                    "leave nvswitch out (NVIDIA only)",
                )
            if g.nvlink_gbytes:
                self.add(
                    (*base, "nvlink_gbytes"),
                    f"nvlink_gbytes is NVIDIA's; the profile is {g.vendor}",
                    f"give the {fits[0]} bandwidth as scale_up_gbytes",
                )
        if g.scale_up is not None and g.scale_up not in fits:
            self.add(
                (*base, "scale_up"),
                f"{g.scale_up} is not a {g.vendor} interconnect",
                f"use one of {', '.join(fits)}",
            )
        nvidia_link = g.vendor == "nvidia" and g.scale_up in ("nvswitch", "nvlink")
        if nvidia_link and (g.scale_up == "nvswitch") != g.nvswitch:
            self.add(
                (*base, "scale_up"),
                f"scale_up {g.scale_up} but nvswitch is {str(g.nvswitch).lower()}",
                "say it once: nvswitch true for NVSwitch boards, false for direct NVLink",
            )
        if (
            g.vendor == "nvidia"
            and g.scale_up_gbytes is not None
            and g.nvlink_gbytes
            and g.scale_up_gbytes != g.nvlink_gbytes
        ):
            self.add(
                (*base, "scale_up_gbytes"),
                f"scale_up_gbytes {g.scale_up_gbytes:g} and nvlink_gbytes {g.nvlink_gbytes:g} "
                "disagree",
                "give one of them",
            )
        nics = prof.compute_nics
        path: PathKey = ("node_profiles", name, "compute_nics")
        if nics.attach == "integrated":
            if g.vendor != "huawei":
                self.add(
                    (*path, "attach"),
                    f"integrated ports are Ascend 910-class NPUs' own; a {g.vendor} node "
                    "has PCIe NICs",
                    "use attach: pcie and list the NICs in rails",
                )
            if nics.rails:
                self.add(
                    (*path, "rails"),
                    "integrated ports need no rail list: NPU i is rail i",
                    "leave rails out",
                )
        elif not nics.rails:
            self.add(
                (*path, "rails"),
                "no compute NIC listed",
                "list one NIC per rail (rdma_device, netdev), or attach: integrated for Ascend",
            )

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
        fname = self.spec.fabric_name(name)
        cf = self.spec.fabrics()[fname]
        fpath = self.spec.fabric_path(fname)
        if prof.compute_nics.speed_gbps != cf.link_gbps * cf.planes:
            self.add(
                (*base, "compute_nics", "speed_gbps"),
                f"NIC speed {prof.compute_nics.speed_gbps} Gb/s does not match "
                f"{cf.planes} plane(s) x {cf.link_gbps} Gb/s links",
                f"set {'.'.join(fpath)}.link_gbps (and planes) to what each NIC port runs at",
            )
        if cf.rails is not None and cf.rails != profile_rails(prof):
            self.add(
                (*fpath, "rails"),
                f"rails is {cf.rails} but profile {name!r} has {profile_rails(prof)} compute NICs",
                "rails are the compute NICs: list one NIC per rail, or fix `rails`",
            )

    def _used_profiles(self) -> list[str]:
        """The profiles the nodes use (each once)."""
        s = self.spec
        if s.nodes.groups is not None:
            return list(dict.fromkeys(g.profile for g in s.nodes.groups))
        listed = s.nodes.entries or []
        default = s.nodes.default_profile
        return list(dict.fromkeys([e.profile or default for e in listed] or [default]))

    def groups(self) -> None:
        s = self.spec
        seen: set[str] = set()
        for i, g in enumerate(s.nodes.groups or []):
            if g.profile not in s.node_profiles:
                self.add(
                    ("nodes", "groups", i, "profile"),
                    f"unknown node profile {g.profile!r}",
                    f"defined profiles: {', '.join(sorted(s.node_profiles))}",
                )
            mine = [g.hostname.format(n=n) for n in range(1, g.count + 1)]
            dup = [n for n in mine if n in seen]
            seen.update(mine)
            if dup:
                self.add(
                    ("nodes", "groups", i, "hostname"),
                    f"hostname {dup[0]!r} is given by more than one group",
                    "give each group its own hostname pattern",
                )

    def nodes(self) -> None:
        s = self.spec
        self.groups()
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
        for fname, cf in self.spec.fabrics().items():
            base = self.spec.fabric_path(fname)
            r = cf.reserved
            if r.slots >= cf.nodes_per_su:
                self.add(
                    (*base, "reserved", "slots"),
                    f"{r.slots} reserved slots leave no node slot in an SU of {cf.nodes_per_su}",
                    "reserve fewer slots",
                )
            rails = rail_count(self.spec, fname)
            if r.ports > r.slots * rails:
                self.add(
                    (*base, "reserved", "ports"),
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
        known = all(p in s.node_profiles for p in self._used_profiles())
        want = sum(rail_count(s, f) * cf.planes for f, cf in s.fabrics().items()) if known else 0
        nets: list[tuple[PathKey, IPv4Network]] = [
            (("addressing", "management", "subnet"), a.management.subnet)
        ]
        if a.bmc is not None:
            nets.append((("addressing", "bmc"), a.bmc))
        nets.append((("addressing", "loopbacks"), a.loopbacks))
        carved = fabric_subnets(s)
        if a.rails is not None:
            if want and len(a.rails) != want:
                order = "" if s.compute_fabrics is None else ", fabric by fabric in name order"
                self.add(
                    ("addressing", "rails"),
                    f"{len(a.rails)} rail subnets for {want} rails",
                    f"give one subnet per rail (and plane), in rail order{order}",
                )
            nets += [(("addressing", "rails", i), net) for i, net in enumerate(a.rails)]
        else:
            assert a.rail_supernet is not None
            have = sum(len(v) for v in carved.values())
            if have < want:
                self.add(
                    ("addressing", "rail_supernet"),
                    f"{a.rail_supernet} cannot hold {want} /{a.rail_prefix} rail subnets",
                    "use a larger supernet or a longer rail_prefix",
                )
            nets += [(("addressing", "rail_supernet"), net) for v in carved.values() for net in v]
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
        by_fabric = fabric_hostnames(s)
        offset = 0
        for f, subnets in carved.items():
            n_f = len(by_fabric.get(f, []))
            need_rail = n_f * (1 + a.pod_ips_per_node) + 1
            for i, net in enumerate(subnets):
                if net.num_addresses - 2 < need_rail:
                    path: PathKey = (
                        ("addressing", "rails", offset + i)
                        if a.rails
                        else ("addressing", "rail_prefix")
                    )
                    self.add(
                        path,
                        f"rail subnet {net} has {net.num_addresses - 2} host addresses, "
                        f"{need_rail} are needed ({n_f} nodes x (1 + "
                        f"{a.pod_ips_per_node} pod addresses) + gateway)",
                        f"use a /{_prefix_for(need_rail)} or larger",
                    )
                    break
            offset += len(subnets)

    def _ib_nodes(self) -> set[str]:
        """The nodes on the InfiniBand fabric."""
        fabrics = self.spec.fabrics()
        return {
            h
            for f, hosts in fabric_hostnames(self.spec).items()
            if f in fabrics and fabrics[f].transport == "infiniband"
            for h in hosts
        }

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
                    elif s.compute_fabrics is not None and m not in self._ib_nodes():
                        self.add(
                            ("subnet_manager", "partitions", i, "members", j),
                            f"{m} is not on the InfiniBand fabric: it has no HCA in a partition",
                            "list hosts of the InfiniBand fabric",
                        )
        ib_nodes = self._ib_nodes()
        for key in ("hosts",):
            for j, h in enumerate(getattr(s.subnet_manager, key)):
                if h not in names:
                    self.add(
                        ("subnet_manager", key, j),
                        f"unknown host {h!r}",
                        "list hostnames of this spec's nodes",
                    )
                elif s.compute_fabrics is not None and h not in ib_nodes:
                    self.add(
                        ("subnet_manager", key, j),
                        f"{h} is not on the InfiniBand fabric: its subnet manager would not "
                        "see the fabric",
                        "run opensm on a node of the InfiniBand fabric",
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
