"""Node profiles resolved once: what every later stage needs to know about a node's hardware.

The spec names server types and lets each node pick one. This module turns a profile and the
fabric it hangs off into the facts render, check, accept, the lab and the report use: the
accelerators, the rails with their RDMA devices and netdevs, rates and link layer, the bond,
and the NCCL environment (NCCL_IB_HCA from the rails, the bootstrap interface from the bond).
Nothing else derives these, so two stages can never disagree about a node.

A node group is the set of nodes that share a profile; expectations and thresholds are per
group, and a test over nodes of different groups is judged by the weaker side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aictl.topology.qos import ROCE_TOS
from aictl.topology.vendors import VendorInfo, default_scale_up, vendor

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aictl.spec.models import ClusterSpec
    from aictl.spec.models import NodeProfile as SpecProfile

# NCCL variables the profile derives itself; a spec may not set them to something else
DERIVED_NCCL = ("NCCL_IB_HCA", "NCCL_SOCKET_IFNAME")
# and HCCL's (Ascend): the host-side bootstrap interface
DERIVED_HCCL = ("HCCL_SOCKET_IFNAME",)


@dataclass(frozen=True, slots=True)
class RailDevice:
    """One compute NIC of a node: a rail."""

    index: int
    rdma_device: str
    netdev: str
    pci_address: str | None
    # GPUs behind the same PCIe switch (the spec's GPUDirect pairing); may be empty
    gpus: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Accelerators:
    """The accelerators of a node."""

    vendor: str
    model: str
    count: int
    nvswitch: bool
    # per-accelerator scale-up bandwidth in GB/s as the vendor quotes it (NVLink, xGMI,
    # HCCS); None when the spec does not say
    scale_up_gbytes: float | None
    # nvswitch, nvlink, xgmi, hccs, xpu-link or pcie (none)
    scale_up: str = "nvswitch"

    @property
    def nvlink_gbytes(self) -> float | None:
        """The scale-up bandwidth by its NVIDIA name (what plans before vendors called it)."""
        return self.scale_up_gbytes

    @property
    def info(self) -> VendorInfo:
        return vendor(self.vendor)


@dataclass(frozen=True, slots=True)
class BondPlan:
    """The storage/management bond."""

    name: str
    members: tuple[str, ...]
    mtu: int
    mode: str
    lacp_rate: str
    hash_policy: str
    miimon_ms: int
    member_gbps: int


@dataclass(frozen=True, slots=True)
class Profile:
    """A resolved node profile: a server type on this cluster's fabric."""

    name: str
    system: str
    os_family: str
    gpu: Accelerators
    nic_model: str
    nic_gbps: int
    transport: str  # infiniband | roce
    rail_mtu: int
    rails: tuple[RailDevice, ...]
    bond: BondPlan
    # what the collective library's environment sets, in file order: derived settings first,
    # then the spec's own (/etc/nccl.conf for NCCL and RCCL, hccl.env for HCCL)
    nccl_env: tuple[tuple[str, str], ...]
    # the compute fabric the rails attach to, and how: pcie NICs or integrated NPU ports
    fabric: str = "compute"
    attach: str = "pcie"

    @property
    def vendor(self) -> VendorInfo:
        return self.gpu.info

    @property
    def host_rails(self) -> tuple[RailDevice, ...]:
        """The rails the host configures itself (netdevs, RDMA devices): none when the ports
        are the NPUs' own (hccn_tool configures those)."""
        return self.rails if self.attach == "pcie" else ()

    @property
    def link_layer(self) -> str:
        """The rail ports' link layer as ibstat prints it."""
        return "InfiniBand" if self.transport == "infiniband" else "Ethernet"

    @property
    def rdma_devices(self) -> tuple[str, ...]:
        return tuple(r.rdma_device for r in self.host_rails)

    @property
    def gid_index(self) -> int | None:
        """The RoCE GID index the spec pins for perftest (NCCL's -1 means 'pick', not one)."""
        value = dict(self.nccl_env).get("NCCL_IB_GID_INDEX")
        if value is None or not value.lstrip("-").isdigit() or int(value) < 0:
            return None
        return int(value)

    def spec_gpu_for_rail(self) -> tuple[int, ...]:
        """Per rail, the GPU the spec pairs with it (its first partner, else an even share)."""
        n = len(self.rails)
        return tuple(
            r.gpus[0] if r.gpus else min(self.gpu.count - 1, i * self.gpu.count // n)
            for i, r in enumerate(self.rails)
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON form (topology.json, plan.json)."""
        return {
            "name": self.name,
            "system": self.system,
            "os_family": self.os_family,
            "gpu": {
                "vendor": self.gpu.vendor,
                "model": self.gpu.model,
                "count": self.gpu.count,
                "nvswitch": self.gpu.nvswitch,
                "scale_up": self.gpu.scale_up,
                "scale_up_gbytes": self.gpu.scale_up_gbytes,
            },
            "fabric": self.fabric,
            "attach": self.attach,
            "nic_model": self.nic_model,
            "nic_gbps": self.nic_gbps,
            "transport": self.transport,
            "rail_mtu": self.rail_mtu,
            "rails": [
                {
                    "index": r.index,
                    "rdma_device": r.rdma_device,
                    "netdev": r.netdev,
                    "pci_address": r.pci_address,
                    "gpus": list(r.gpus),
                }
                for r in self.rails
            ],
            "bond": {
                "name": self.bond.name,
                "members": list(self.bond.members),
                "mtu": self.bond.mtu,
                "mode": self.bond.mode,
                "lacp_rate": self.bond.lacp_rate,
                "hash_policy": self.bond.hash_policy,
                "miimon_ms": self.bond.miimon_ms,
                "member_gbps": self.bond.member_gbps,
            },
            "nccl_env": [list(kv) for kv in self.nccl_env],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Profile:
        """Read back what `as_dict` wrote."""
        g, b = d["gpu"], d["bond"]
        return cls(
            name=d["name"],
            system=d["system"],
            os_family=d["os_family"],
            gpu=Accelerators(
                g["vendor"],
                g["model"],
                g["count"],
                g["nvswitch"],
                g.get("scale_up_gbytes", g.get("nvlink_gbytes")),
                g.get("scale_up")
                or default_scale_up(g["vendor"], g["nvswitch"], g.get("nvlink_gbytes")),
            ),
            nic_model=d["nic_model"],
            nic_gbps=d["nic_gbps"],
            transport=d["transport"],
            rail_mtu=d["rail_mtu"],
            rails=tuple(
                RailDevice(
                    r["index"], r["rdma_device"], r["netdev"], r["pci_address"], tuple(r["gpus"])
                )
                for r in d["rails"]
            ),
            bond=BondPlan(
                b["name"],
                tuple(b["members"]),
                b["mtu"],
                b["mode"],
                b["lacp_rate"],
                b["hash_policy"],
                b["miimon_ms"],
                b["member_gbps"],
            ),
            nccl_env=tuple((k, v) for k, v in d["nccl_env"]),
            fabric=d.get("fabric", "compute"),
            attach=d.get("attach", "pcie"),
        )


def rail_mtu(spec: ClusterSpec, fabric: str | None = None) -> int:
    """Netdev MTU of a fabric's rails: the spec's, or the transport's usual value."""
    from aictl.spec.rules import rail_mtu as spec_rail_mtu

    return spec_rail_mtu(spec, fabric)


def _rails(prof: SpecProfile) -> tuple[RailDevice, ...]:
    nics = prof.compute_nics
    if nics.attach == "integrated":
        # NPU i carries rail i: aictl calls its port npu<i> (hccn_tool -i <i>); inside the NPU
        # the port is eth<i>, as `hccn_tool -gateway -g` prints it
        return tuple(RailDevice(i, f"npu{i}", f"eth{i}", None, (i,)) for i in range(prof.gpu.count))
    return tuple(
        RailDevice(i, n.rdma_device, n.netdev, n.pci_address, tuple(n.gpus))
        for i, n in enumerate(nics.rails)
    )


def _env(
    prof: SpecProfile, rails: tuple[RailDevice, ...], bond: str, transport: str
) -> tuple[tuple[str, str], ...]:
    """The collective library's environment: derived settings first, then the spec's own."""
    if prof.gpu.vendor == "huawei":
        # HCCL bootstraps over the bond; the NPU ports carry their own addresses (hccn.conf)
        env: list[tuple[str, str]] = [("HCCL_SOCKET_IFNAME", bond)]
        derived: tuple[str, ...] = DERIVED_HCCL
    else:
        # NCCL, and RCCL, which reads the same NCCL_* variables
        env = [
            ("NCCL_IB_HCA", "=" + ",".join(f"{r.rdma_device}:1" for r in rails)),
            # bootstrap and out-of-band traffic on the bond, never on the rails
            ("NCCL_SOCKET_IFNAME", "=" + bond),
        ]
        derived = DERIVED_NCCL
        if transport == "roce":
            # RoCE v2; GID index -1 lets NCCL pick the RoCE v2 IPv4 GID (NCCL >= 2.21); the
            # traffic class puts NCCL on the lossless priority
            env += [
                ("NCCL_IB_ROCE_VERSION_NUM", "2"),
                ("NCCL_IB_GID_INDEX", "-1"),
                ("NCCL_IB_TC", str(ROCE_TOS)),
            ]
    given = {k: str(v) for k, v in prof.nccl_env.items() if k not in derived}
    env = [(k, given.pop(k, v)) for k, v in env]
    env += sorted(given.items())
    return tuple(env)


def resolve(spec: ClusterSpec, name: str, prof: SpecProfile) -> Profile:
    """One profile of `spec`, resolved against the fabric its rails attach to."""
    fabric = spec.fabric_name(name)
    cf = spec.fabrics()[fabric]
    storage = prof.storage_nics
    bond = storage.bond
    rails = _rails(prof)
    g = prof.gpu
    gbytes = g.scale_up_gbytes or g.nvlink_gbytes or None
    return Profile(
        name=name,
        system=prof.system,
        os_family=prof.os_family,
        gpu=Accelerators(
            g.vendor,
            g.model,
            g.count,
            g.nvswitch,
            gbytes,
            g.scale_up or default_scale_up(g.vendor, g.nvswitch, gbytes),
        ),
        nic_model=prof.compute_nics.model,
        nic_gbps=prof.compute_nics.speed_gbps,
        transport=cf.transport,
        rail_mtu=rail_mtu(spec, fabric),
        rails=rails,
        bond=BondPlan(
            bond.name,
            tuple(storage.netdevs),
            bond.mtu,
            bond.mode,
            bond.lacp_rate,
            bond.transmit_hash_policy,
            bond.mii_monitor_ms,
            storage.speed_gbps,
        ),
        nccl_env=_env(prof, rails, bond.name, cf.transport),
        fabric=fabric,
        attach=prof.compute_nics.attach,
    )


def resolve_all(spec: ClusterSpec) -> dict[str, Profile]:
    """Every profile of `spec`, by name, in name order."""
    return {name: resolve(spec, name, p) for name, p in sorted(spec.node_profiles.items())}
