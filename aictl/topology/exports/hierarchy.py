"""The scheduling hierarchy of a plan: what every topology-aware scheduler export is cut from.

A rail-optimized node hangs off one leaf per rail, so no single switch is a node's "leaf" in
the sense schedulers mean (one parent per node). What a scheduler should keep together is the
scalable unit (SU): every node of an SU is on all of the SU's rail leaves, so same-rail traffic
between two nodes of one SU crosses one switch. The hierarchy is therefore

    fabric  >  spine pod (three tiers, more than one pod per rail)  >  SU  >  node

and every export (Slurm tree and block, topology.yaml, Volcano HyperNodes, Kueue and KAI
Topologies) is drawn from it, so they cannot disagree. Public entries: `hierarchy`,
`block_plan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from aictl.topology.model import Topology

# topology/block refuses more than 16 block levels (the base and 15 doublings)
MAX_BLOCK_LEVEL = 15


@dataclass(frozen=True, slots=True)
class Unit:
    """One scalable unit: its name (`su01`) and its nodes in plan order."""

    name: str
    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Pod:
    """One spine pod of a three-tier fabric: its name (`pod01`) and its SUs' names."""

    name: str
    units: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """Fabric > (spine pods) > SUs > nodes of one plan."""

    cluster: str
    top: str
    units: tuple[Unit, ...]
    # empty unless three tiers with more than one spine pod per rail
    pods: tuple[Pod, ...]
    # SUs per spine pod (three tiers), else 0
    sus_per_pod: int

    @property
    def full(self) -> int:
        """Nodes of the largest SU: what a full SU holds once reserved slots are taken."""
        return max(len(u.nodes) for u in self.units)


@dataclass(frozen=True, slots=True)
class BlockPlan:
    """topology/block for a set of SUs: the blocks, the SUs left out, the sizes, and why."""

    blocks: tuple[Unit, ...]
    left_out: tuple[Unit, ...]
    base: int
    sizes: tuple[int, ...]
    notes: tuple[str, ...]


def hierarchy(topo: Topology) -> Hierarchy:
    """The scheduling hierarchy of the plan (SUs in SU order, nodes in plan order). A plan of
    several compute fabrics is each fabric's hierarchy side by side, SUs and pods named with
    the fabric's prefix (`ib-su01`, `roce-su01`: the node labels' names) under one top."""
    parts = fabric_hierarchies(topo)
    if len(parts) == 1:
        return parts[0]
    return Hierarchy(
        topo.name,
        "fabric",
        tuple(u for h in parts for u in h.units),
        tuple(p for h in parts for p in h.pods),
        max(h.sus_per_pod for h in parts),
    )


def fabric_hierarchies(topo: Topology) -> list[Hierarchy]:
    """One hierarchy per compute fabric, each under its own top switch (the fabric's name,
    `fabric` for a plan of one): their rails never meet, so nothing joins them."""
    out = []
    for f in topo.fabrics:
        view = topo.view(f.name)
        out.append(_one(view, f.prefix, f.prefix.rstrip("-") or "fabric"))
    return out


def _one(topo: Topology, prefix: str, top: str) -> Hierarchy:
    sh = topo.shape
    su_w = max(2, len(str(sh.sus)))
    by_su: dict[int, list[str]] = {}
    for n in topo.nodes:
        by_su.setdefault(n.su, []).append(n.name)
    units = tuple(Unit(f"{prefix}su{su:0{su_w}d}", tuple(by_su[su])) for su in sorted(by_su))
    pods: list[Pod] = []
    if sh.tiers == 3 and sh.pods_per_rail > 1:
        pod_w = max(2, len(str(sh.pods_per_rail)))
        members: dict[int, list[str]] = {}
        for su in sorted(by_su):
            members.setdefault((su - 1) // sh.sus_per_pod + 1, []).append(
                f"{prefix}su{su:0{su_w}d}"
            )
        pods = [
            Pod(f"{prefix}pod{p:0{pod_w}d}", tuple(names)) for p, names in sorted(members.items())
        ]
    return Hierarchy(topo.name, top, units, tuple(pods), sh.sus_per_pod if sh.tiers == 3 else 0)


def group_units(h: Hierarchy, nodes: Iterable[str]) -> tuple[Unit, ...]:
    """The SUs restricted to `nodes` (one node group), SUs without any of them dropped."""
    keep = set(nodes)
    out = [Unit(u.name, tuple(n for n in u.nodes if n in keep)) for u in h.units]
    return tuple(u for u in out if u.nodes)


def block_plan(units: tuple[Unit, ...], *, full: int, sus_per_pod: int = 0) -> BlockPlan:
    """topology/block from SUs.

    Slurm's block plugin takes the first BlockSizes value as the base block and refuses a
    block with fewer nodes (fatal at start); every further size must be the base times a
    power of two, and blocks are paired in file order (2, 4, 8 ... blocks) up to the first
    level that holds them all. So: one block per SU; the base is the smallest SU's node count,
    so that a partial SU (reserved slots, a short last SU) is still a block; an SU with fewer
    than half of a full SU's nodes is left out rather than shrinking the base below half an
    SU (with a base of b, a job of n nodes asks for ceil(n/b) base blocks: a tiny base would
    spread every job over many SUs). Left-out nodes stay in the tree topology.

    Args:
        units: the SUs (of the whole plan or of one node group).
        full: the node count of a full SU.
        sus_per_pod: SUs per spine pod (three tiers), to say when pairs straddle pods.
    """
    floor = (full + 1) // 2
    blocks = tuple(u for u in units if len(u.nodes) >= floor)
    left_out = tuple(u for u in units if len(u.nodes) < floor)
    if not blocks:
        return BlockPlan((), left_out, 0, (), ("no SU holds half a full SU: no blocks",))
    base = min(len(u.nodes) for u in blocks)
    sizes = [base]
    level = 0
    while (1 << level) < len(blocks) and level < MAX_BLOCK_LEVEL:
        level += 1
        sizes.append(base << level)
    notes: list[str] = []
    partial = [u for u in blocks if len(u.nodes) < full]
    if partial:
        names = ", ".join(f"{u.name} ({len(u.nodes)})" for u in partial)
        notes.append(
            f"partial SUs {names} of {full} nodes: the base block is the smallest SU, "
            f"{base} nodes, so that every SU is a block (Slurm refuses a smaller block)"
        )
    for u in left_out:
        notes.append(
            f"{u.name} has {len(u.nodes)} of {full} nodes, less than half an SU: not a block, "
            "so the base stays near a full SU (its nodes are only in the tree topology)"
        )
    if sus_per_pod and len(blocks) > sus_per_pod and sus_per_pod & (sus_per_pod - 1):
        notes.append(
            f"spine pods hold {sus_per_pod} SUs, not a power of two: an aggregated block "
            "(2, 4, 8 ... SUs in file order) can straddle two pods; the tree topology keeps "
            "pods exact"
        )
    return BlockPlan(blocks, left_out, base, tuple(sizes), tuple(notes))
