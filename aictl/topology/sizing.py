"""Stage 2 arithmetic: how many switches and cables a rail-optimized fabric needs.

Pure integer rules, shared by `aictl topo size` and the port-level planner:

* The fabric is built for full scalable units (SUs). NIC r of every node of an SU lands on
  that SU's rail-r leaf (or leaf group, when an SU has more nodes than a leaf has downlinks).
* Leaf ports split into downlinks and uplinks by the leaf oversubscription; a leaf has as
  many uplinks as its node slots need (slots / ratio, rounded up).
* Two tiers: every leaf lands the same number m of links on every spine. The spine count is
  the smallest divisor s of the leaf uplinks for which the spines can take them all
  (leaves x uplinks/s <= radix). This is why NVIDIA's 3-SU H100 row has 16 spines, not the 12
  that port arithmetic alone gives: 32 uplinks do not split evenly over 12 spines.
* Three tiers: the spine tier is organised per rail. A rail's leaves form pods of whole SUs,
  each pod fully meshed to its own spines (the same divisor rule, with the spine's
  downlinks as capacity); spine k of every pod of every rail joins core group k, whose
  cores again take an equal share of every spine's uplinks.
* Planes are independent copies; every count is per plane times planes.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from aictl.errors import TopologyError


@dataclass(frozen=True, slots=True)
class SizingInput:
    """Everything the arithmetic needs; built from a spec or from `topo size` flags."""

    nodes: int
    nodes_per_su: int
    rails: int
    link_gbps: int
    switch_ports: int
    reserved_slots: int = 0
    reserved_ports: int = 0
    planes: int = 1
    leaf_oversubscription: float = 1.0
    spine_oversubscription: float = 1.0
    tiers: str = "auto"


@dataclass(frozen=True, slots=True)
class FabricShape:
    """The structure of one plane, and the totals over all planes."""

    inp: SizingInput
    tiers: int
    sus: int
    leaves_per_rail_per_su: int
    slots_per_leaf: int
    leaf_uplinks: int
    # two tiers: `spines` spines, `links_leaf_spine` links from every leaf to every spine.
    # three tiers: per rail, `pods_per_rail` pods of `sus_per_pod` SUs, `spines` spines per pod.
    spines: int
    links_leaf_spine: int
    pods_per_rail: int
    sus_per_pod: int
    spine_uplinks: int
    cores_per_group: int
    links_spine_core: int

    @property
    def leaves_per_plane(self) -> int:
        return self.sus * self.inp.rails * self.leaves_per_rail_per_su

    @property
    def leaves_per_pod(self) -> int:
        return self.sus_per_pod * self.leaves_per_rail_per_su

    @property
    def spines_per_plane(self) -> int:
        if self.tiers == 2:
            return self.spines
        return self.inp.rails * self.pods_per_rail * self.spines

    @property
    def cores_per_plane(self) -> int:
        return self.spines * self.cores_per_group if self.tiers == 3 else 0

    @property
    def node_leaf_per_plane(self) -> int:
        return self.inp.nodes * self.inp.rails + self.inp.reserved_ports

    @property
    def leaf_spine_per_plane(self) -> int:
        return self.leaves_per_plane * self.leaf_uplinks

    @property
    def spine_core_per_plane(self) -> int:
        return self.spines_per_plane * self.spine_uplinks if self.tiers == 3 else 0

    def counts(self) -> dict[str, Any]:
        """The `topo size` JSON: tiers, nodes, switches and cables (all planes)."""
        p = self.inp.planes
        return {
            "tiers": self.tiers,
            "nodes": self.inp.nodes,
            "planes": p,
            "sus": self.sus,
            "rails": self.inp.rails,
            "switches": {
                "leaf": self.leaves_per_plane * p,
                "spine": self.spines_per_plane * p,
                "core": self.cores_per_plane * p,
                "total": (self.leaves_per_plane + self.spines_per_plane + self.cores_per_plane) * p,
            },
            "cables": {
                "node_leaf": self.node_leaf_per_plane * p,
                "leaf_spine": self.leaf_spine_per_plane * p,
                "spine_core": self.spine_core_per_plane * p,
            },
            "links_per_leaf_spine_pair": self.links_leaf_spine,
            "links_per_spine_core_pair": self.links_spine_core if self.tiers == 3 else 0,
            "oversubscription": {
                "leaf": _ratio(self.slots_per_leaf, self.leaf_uplinks),
                "spine": _ratio(self.leaves_per_pod * self.links_leaf_spine, self.spine_uplinks)
                if self.tiers == 3
                else None,
            },
        }


def _ratio(down: int, up: int) -> str:
    if up == 0:
        return "n/a"
    r = down / up
    return f"{r:g}:1" if r >= 1 else f"1:{up / down:g}"


def _smallest_divisor(total: int, fits: int, per_share: int) -> int | None:
    """Smallest s dividing `total` with per_share * (total / s) <= fits."""
    for s in range(1, total + 1):
        if total % s == 0 and per_share * (total // s) <= fits:
            return s
    return None


def down_ports(ports: int, ratio: float) -> int:
    """Ports a switch may give to the tier below at oversubscription `ratio`."""
    return ports - ceil(ports / (ratio + 1))


def size_fabric(inp: SizingInput) -> FabricShape:
    """Size one plane of a rail-optimized fabric (see the module docstring for the rules).

    Raises:
        TopologyError: the ports cannot fit, with what would fit.
    """
    k = inp.switch_ports
    if inp.reserved_slots >= inp.nodes_per_su:
        raise TopologyError(
            f"{inp.reserved_slots} reserved slots fill an SU of {inp.nodes_per_su}",
            hint="reserve fewer slots",
            field="compute_fabric.reserved.slots",
        )
    if inp.reserved_ports > inp.reserved_slots * inp.rails:
        raise TopologyError(
            f"{inp.reserved_ports} reserved ports do not fit in "
            f"{inp.reserved_slots} slot(s) of {inp.rails} rails",
            hint="a reserved slot has one leaf port per rail",
            field="compute_fabric.reserved.ports",
        )
    leaf_down_max = down_ports(k, inp.leaf_oversubscription)
    if leaf_down_max < 1:
        raise TopologyError(
            f"a {k}-port leaf has no downlink port at {inp.leaf_oversubscription:g}:1",
            hint="use a larger switch",
            field="compute_fabric.oversubscription.leaf",
        )
    sus = ceil((inp.nodes + inp.reserved_slots) / inp.nodes_per_su)
    lpr = ceil(inp.nodes_per_su / leaf_down_max)
    slots_per_leaf = ceil(inp.nodes_per_su / lpr)
    up = ceil(slots_per_leaf / inp.leaf_oversubscription)
    if slots_per_leaf + up > k:
        raise TopologyError(
            f"{slots_per_leaf} node ports + {up} uplinks exceed a {k}-port leaf",
            hint="lower nodes_per_su or the oversubscription",
            field="compute_fabric.switch_ports",
        )
    leaves = sus * inp.rails * lpr
    want = inp.tiers
    s2 = _smallest_divisor(up, k, leaves)
    if want == "2" or (want == "auto" and s2 is not None):
        if s2 is None:
            max_sus = k // (inp.rails * lpr)
            max_nodes = max(max_sus * inp.nodes_per_su - inp.reserved_slots, 0)
            raise TopologyError(
                f"two tiers of {k}-port switches mesh at most {k} leaves per plane "
                f"({max_sus} SUs, {max_nodes} nodes with {inp.rails} rails); this needs "
                f"{leaves} leaves for {inp.nodes} nodes",
                hint="set compute_fabric.tiers to 3 (or auto), or use larger switches",
                field="compute_fabric.tiers",
            )
        return FabricShape(inp, 2, sus, lpr, slots_per_leaf, up, s2, up // s2, 0, 0, 0, 0, 0)
    return _three_tiers(inp, sus, lpr, slots_per_leaf, up)


def _three_tiers(inp: SizingInput, sus: int, lpr: int, slots_per_leaf: int, up: int) -> FabricShape:
    k = inp.switch_ports
    spine_down = down_ports(k, inp.spine_oversubscription)
    sus_per_pod_max = spine_down // lpr
    if sus_per_pod_max < 1:
        raise TopologyError(
            f"a rail's leaves of one SU ({lpr}) exceed a spine's {spine_down} downlinks",
            hint="use larger switches or smaller SUs",
            field="compute_fabric.nodes_per_su",
        )
    pods = ceil(sus / sus_per_pod_max)
    sus_per_pod = ceil(sus / pods)
    leaves_per_pod = sus_per_pod * lpr
    s = _smallest_divisor(up, spine_down, leaves_per_pod)
    assert s is not None  # leaves_per_pod <= spine_down, so s = up always fits
    m = up // s
    spine_up = ceil(leaves_per_pod * m / inp.spine_oversubscription)
    if leaves_per_pod * m + spine_up > k:
        raise TopologyError(
            f"spines need {leaves_per_pod * m} + {spine_up} ports, have {k}",
            hint="raise the spine oversubscription or use larger switches",
            field="compute_fabric.oversubscription.spine",
        )
    total_pods = inp.rails * pods
    c = _smallest_divisor(spine_up, k, total_pods)
    if c is None:
        per_pod = sus_per_pod_max * inp.nodes_per_su
        max_pods_per_rail = k // inp.rails
        raise TopologyError(
            f"three tiers of {k}-port switches join at most {k} spine pods; "
            f"{inp.rails} rails x {pods} pods = {total_pods}",
            hint=f"at most {max_pods_per_rail} pods of {per_pod} nodes per rail "
            f"({max_pods_per_rail * per_pod - inp.reserved_slots} nodes) fit; use larger "
            "switches, more planes or a higher spine oversubscription",
            field="compute_fabric.switch_ports",
        )
    return FabricShape(
        inp, 3, sus, lpr, slots_per_leaf, up, s, m, pods, sus_per_pod, spine_up, c, spine_up // c
    )
