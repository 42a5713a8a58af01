"""What the plan promises, as numbers a measurement can be held against — per node group.

Per NIC: the line rate; GPUDirect `ib_write_bw` must reach `gdr_min_fraction` of it.
Collectives (busbw, GB/s): across nodes all_reduce/all_gather/reduce_scatter can reach the
node's aggregate NIC bandwidth (rails x line rate / 8), alltoall only one NIC's (NCCL cannot
aggregate NICs for it), sendrecv half the aggregate (each rank sends and receives on the same
ports); inside one node the scale-up interconnect bounds them (per-GPU NVLink, xGMI or HCCS
bandwidth / 2, one direction). A
measurement passes at `nccl_min_fraction` of that (NVSwitch or direct-connect NVLink alike:
the per-GPU figure bounds it). The fleet rule is separate: a unit more than
`fleet_tolerance_pct` below the median of its peers fails. A GPU profile without NVLink
figures gets measurements and no verdict for the intra-node test.

Each node group (the nodes of one profile) has its own numbers; a test over nodes of several
groups is held against the weaker side (the lowest bound among its groups), and says which.
The scale-up bound is the vendor's interconnect (NVLink, xGMI, HCCS) and the collective
library its own (NCCL, RCCL, HCCL): hccl_test has no send/receive test, so an Ascend domain
runs the other four. Nodes meet in a collective only inside their collective domain (one
fabric, one vendor): no test spans two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from aictl.topology.model import Topology

COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "alltoall", "sendrecv")
# what each vendor's benchmark measures (hccl_test: no send/receive benchmark is run)
_COLLECTIVES_OF = {"huawei": COLLECTIVES[:4]}


def collectives_of(vendor: str) -> tuple[str, ...]:
    """The collectives a vendor's benchmark runs over a domain, in report order."""
    return _COLLECTIVES_OF.get(vendor, COLLECTIVES)


@dataclass(frozen=True, slots=True)
class GroupExpectation:
    """What the nodes of one profile can do."""

    group: str
    link_gbps: int
    rails: int
    gpus_per_node: int
    # the scale-up interconnect's per-accelerator figure (both directions), GB/s
    scale_up_gbytes: float | None
    vendor: str = "nvidia"
    scale_up: str = "nvswitch"

    def busbw_peak(self, collective: str, nodes: int) -> float | None:
        """The busbw (GB/s) these nodes can reach for `collective` over `nodes` nodes."""
        if nodes <= 1:
            return self.scale_up_gbytes / 2 if self.scale_up_gbytes else None
        aggregate = self.rails * self.link_gbps / 8
        if collective == "alltoall":
            return self.link_gbps / 8
        if collective == "sendrecv":
            return aggregate / 2
        return aggregate


@dataclass(frozen=True, slots=True)
class Expectations:
    """The numbers one run is judged by (stored in the run's plan.json)."""

    groups: dict[str, GroupExpectation]
    node_group: dict[str, str]
    gdr_min_fraction: float
    nccl_min_fraction: float
    fleet_tolerance: float
    reference_bytes: int
    allreduce_override: float | None
    # each node's collective domain (one fabric, one vendor); empty in plans written before
    node_domain: dict[str, str] = field(default_factory=dict)

    def domain_of(self, host: str) -> str:
        return self.node_domain.get(host, "")

    @property
    def several_domains(self) -> bool:
        return len(set(self.node_domain.values())) > 1

    def vendor_of(self, host: str) -> str:
        return self.group_of(host).vendor

    def group_of(self, host: str) -> GroupExpectation:
        return self.groups[self.node_group[host]]

    def groups_of(self, hosts: Iterable[str]) -> list[str]:
        """The node groups `hosts` belong to, in name order."""
        return sorted({self.node_group[h] for h in hosts})

    @property
    def rails(self) -> int:
        """Rails per node (every profile of a fabric has the same count)."""
        return max((g.rails for g in self.groups.values()), default=0)

    def gdr_min_gbps(self, hosts: Iterable[str]) -> float:
        """The GPUDirect floor for a test between `hosts` (the slower NIC's)."""
        link = min(self.group_of(h).link_gbps for h in hosts)
        return round(link * self.gdr_min_fraction, 3)

    def busbw_peak(self, collective: str, hosts: Iterable[str]) -> float | None:
        """What the weakest group among `hosts` can reach (None: no baseline for it)."""
        hosts = list(hosts)
        peaks = [self.groups[g].busbw_peak(collective, len(hosts)) for g in self.groups_of(hosts)]
        if not peaks or any(p is None for p in peaks):
            return None
        return min(p for p in peaks if p is not None)

    def busbw_min(self, collective: str, hosts: Iterable[str]) -> float | None:
        """The pass threshold (GB/s), or None when there is no baseline."""
        hosts = list(hosts)
        if collective == "all_reduce" and len(hosts) > 1 and self.allreduce_override is not None:
            return self.allreduce_override
        peak = self.busbw_peak(collective, hosts)
        return round(peak * self.nccl_min_fraction, 3) if peak else None

    def weaker_side(self, hosts: Iterable[str], collective: str | None = None) -> str:
        """'' for hosts of one group; else which group the test is judged by, in words."""
        hosts = list(hosts)
        groups = self.groups_of(hosts)
        if len(groups) < 2:
            return ""
        if collective is None:
            weakest = min(groups, key=lambda g: self.groups[g].link_gbps)
        else:
            weakest = min(
                groups,
                key=lambda g: self.groups[g].busbw_peak(collective, len(hosts)) or 0.0,
            )
        return f"spans node groups {', '.join(groups)}: judged by the weaker side ({weakest})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "gdr_min_fraction": self.gdr_min_fraction,
            "nccl_min_fraction": self.nccl_min_fraction,
            "fleet_tolerance": self.fleet_tolerance,
            "reference_bytes": self.reference_bytes,
            "allreduce_override": self.allreduce_override,
            "rails": self.rails,
            "groups": {
                name: {
                    "link_gbps": g.link_gbps,
                    "rails": g.rails,
                    "gpus_per_node": g.gpus_per_node,
                    "vendor": g.vendor,
                    "scale_up": g.scale_up,
                    "scale_up_gbytes": g.scale_up_gbytes,
                    "gdr_min_gbps": round(g.link_gbps * self.gdr_min_fraction, 3),
                    "nodes": sum(1 for v in self.node_group.values() if v == name),
                }
                for name, g in sorted(self.groups.items())
            },
            "node_group": dict(self.node_group),
            "node_domain": dict(self.node_domain),
        }

    @classmethod
    def read(cls, d: dict[str, Any], hosts: Iterable[str] = ()) -> Expectations:
        """From plan.json; a plan written before node groups (one flat set of numbers) reads
        as one group holding `hosts`, one written before vendors as NVIDIA's (its scale-up
        figure under `nvlink_gbytes`)."""
        if "groups" not in d:
            one = _group("all", d)
            d = {**d, "groups": {}, "node_group": dict.fromkeys(hosts, "all")}
            legacy = {"all": one}
        else:
            legacy = {}
        groups = legacy or {name: _group(name, g) for name, g in (d.get("groups") or {}).items()}
        return cls(
            groups=groups,
            node_group=dict(d.get("node_group") or {}),
            gdr_min_fraction=float(d["gdr_min_fraction"]),
            nccl_min_fraction=float(d["nccl_min_fraction"]),
            fleet_tolerance=float(d["fleet_tolerance"]),
            reference_bytes=int(d["reference_bytes"]),
            allreduce_override=d.get("allreduce_override"),
            node_domain=dict(d.get("node_domain") or {}),
        )


def _group(name: str, g: dict[str, Any]) -> GroupExpectation:
    gbytes = g.get("scale_up_gbytes", g.get("nvlink_gbytes"))
    return GroupExpectation(
        name,
        int(g["link_gbps"]),
        int(g["rails"]),
        int(g["gpus_per_node"]),
        None if gbytes is None else float(gbytes),
        str(g.get("vendor") or "nvidia"),
        str(g.get("scale_up") or "nvswitch"),
    )


def expectations(topo: Topology) -> Expectations:
    """From the plan: each node group's profile and the spec's acceptance thresholds."""
    spec = topo.spec
    acc = spec.acceptance
    groups = {}
    for name in topo.groups():
        prof = topo.profiles[name]
        groups[name] = GroupExpectation(
            group=name,
            link_gbps=min(spec.fabrics()[prof.fabric].link_gbps, prof.nic_gbps),
            rails=len(prof.rails),
            gpus_per_node=prof.gpu.count,
            scale_up_gbytes=prof.gpu.scale_up_gbytes,
            vendor=prof.gpu.vendor,
            scale_up=prof.gpu.scale_up,
        )
    return Expectations(
        groups=groups,
        node_group={n.name: n.profile for n in topo.nodes},
        gdr_min_fraction=acc.gdr_min_fraction,
        nccl_min_fraction=acc.nccl_min_fraction,
        fleet_tolerance=acc.fleet_tolerance_pct / 100,
        reference_bytes=acc.nccl_reference_bytes,
        allreduce_override=acc.allreduce_min_busbw_gbytes,
        node_domain={n.name: topo.domain_of(n) for n in topo.nodes},
    )
