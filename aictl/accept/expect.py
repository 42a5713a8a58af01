"""What the plan promises, as numbers a measurement can be held against.

Per NIC: the line rate; GPUDirect `ib_write_bw` must reach `gdr_min_fraction` of it.
Collectives (busbw, GB/s): across nodes all_reduce/all_gather/reduce_scatter can reach the
node's aggregate NIC bandwidth (rails x line rate / 8), alltoall only one NIC's (NCCL cannot
aggregate NICs for it), sendrecv half the aggregate (each rank sends and receives on the same
ports); inside one node NVLink bounds them (per-GPU NVLink bandwidth / 2, one direction). A
measurement passes at `nccl_min_fraction` of that. The fleet rule is separate: a unit more
than `fleet_tolerance_pct` below the median of its peers fails. A GPU profile without NVLink
figures gets measurements and no verdict for the intra-node test.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aictl.topology.model import Topology

COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "alltoall", "sendrecv")


@dataclass(frozen=True, slots=True)
class Expectations:
    """The numbers one run is judged by (stored in the run's plan.json)."""

    link_gbps: int
    rails: int
    gpus_per_node: int
    nvlink_gbytes: float | None
    gdr_min_fraction: float
    nccl_min_fraction: float
    fleet_tolerance: float
    reference_bytes: int
    allreduce_override: float | None

    @property
    def gdr_min_gbps(self) -> float:
        return round(self.link_gbps * self.gdr_min_fraction, 3)

    def busbw_peak(self, collective: str, nodes: int) -> float | None:
        """The busbw (GB/s) the hardware can reach for `collective` over `nodes` nodes."""
        if nodes <= 1:
            return self.nvlink_gbytes / 2 if self.nvlink_gbytes else None
        aggregate = self.rails * self.link_gbps / 8
        if collective == "alltoall":
            return self.link_gbps / 8
        if collective == "sendrecv":
            return aggregate / 2
        return aggregate

    def busbw_min(self, collective: str, nodes: int) -> float | None:
        """The pass threshold (GB/s), or None when there is no baseline."""
        if collective == "all_reduce" and nodes > 1 and self.allreduce_override is not None:
            return self.allreduce_override
        peak = self.busbw_peak(collective, nodes)
        return round(peak * self.nccl_min_fraction, 3) if peak else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "gdr_min_gbps": self.gdr_min_gbps}


def expectations(topo: Topology) -> Expectations:
    """From the spec: the first node's profile (acceptance assumes one GPU SKU per run)."""
    spec = topo.spec
    prof = spec.node_profiles[topo.nodes[0].profile]
    acc = spec.acceptance
    return Expectations(
        link_gbps=spec.compute_fabric.link_gbps,
        rails=len(prof.compute_nics.rails),
        gpus_per_node=prof.gpu.count,
        nvlink_gbytes=prof.gpu.nvlink_gbytes
        if prof.gpu.nvswitch and prof.gpu.nvlink_gbytes
        else None,
        gdr_min_fraction=acc.gdr_min_fraction,
        nccl_min_fraction=acc.nccl_min_fraction,
        fleet_tolerance=acc.fleet_tolerance_pct / 100,
        reference_bytes=acc.nccl_reference_bytes,
        allreduce_override=acc.allreduce_min_busbw_gbytes,
    )
