"""The benchmark plan: which test runs where, in which stage and round.

1. `node`: per node (nodes in parallel): GPUDirect `ib_write_bw` per rail, loopback through
   the rail's port, with the GPU nearest that NIC (from `nvidia-smi topo -m`, never GPU i <->
   mlx5_i), the same from host memory (GPUDirect off), and single-node NCCL all_reduce.
2. `pair`: rounds of disjoint pairs, every pair of a round at once (no NIC is shared, and the
   leaf uplinks of a non-blocking plan carry them all): round 1 pairs neighbours inside each SU
   (same rail leaf), round 2 pairs node i with node i + N/2 in (SU, slot) order, which crosses
   SUs and exercises the leaf uplinks. Per pair: GPUDirect per rail and a 2-node all_reduce
   with NCCL_ALGO=Ring (tree algorithms can beat the network bottleneck on two nodes).
3. `cluster`: every node: all_reduce, all_gather, reduce_scatter, alltoall, sendrecv over a
   size sweep up to the reference size (the verdict's row).
4. `confirm`: added after the pairwise rounds when something is low (see localize.py).
Unit ids are stable strings, so a resumed run skips exactly what is finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aictl.accept.expect import COLLECTIVES
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from aictl.topology.model import Topology

SUITES = ("quick", "full")


@dataclass(frozen=True, slots=True)
class Unit:
    """One benchmark: where it runs and what it measures."""

    id: str
    stage: str  # node | pair | cluster | confirm
    kind: str  # gdr | host | nccl
    hosts: tuple[str, ...]
    round: int = 0
    rail: int | None = None
    gpus: tuple[int, ...] = ()
    collective: str = ""
    sizes: tuple[int, int, int] = (0, 0, 2)  # min, max, factor
    env: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stage": self.stage,
            "kind": self.kind,
            "hosts": list(self.hosts),
            "round": self.round,
            "rail": self.rail,
            "gpus": list(self.gpus),
            "collective": self.collective,
            "sizes": list(self.sizes),
            "env": dict(self.env),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Unit:
        return cls(
            d["id"],
            d["stage"],
            d["kind"],
            tuple(d["hosts"]),
            d.get("round", 0),
            d.get("rail"),
            tuple(d.get("gpus", ())),
            d.get("collective", ""),
            (d["sizes"][0], d["sizes"][1], d["sizes"][2]),
            dict(d.get("env", {})),
        )


def pair_rounds(topo: Topology, hosts: list[str]) -> list[list[tuple[str, str]]]:
    """Round 1: neighbours inside each SU; round 2: i <-> i + N/2 in (SU, slot) order."""
    order = sorted(
        (n for n in topo.nodes if n.name in set(hosts)), key=lambda n: (n.su, n.slot, n.name)
    )
    by_su: dict[int, list[str]] = {}
    for n in order:
        by_su.setdefault(n.su, []).append(n.name)
    first = [(m[i], m[i + 1]) for m in by_su.values() for i in range(0, len(m) - 1, 2)]
    names = [n.name for n in order]
    half = len(names) // 2
    second = [(names[i], names[i + half]) for i in range(half)]
    rounds = [r for r in (first, second) if r]
    # a pair both rounds share adds nothing (tiny clusters)
    if len(rounds) == 2 and set(rounds[0]) == set(rounds[1]):
        rounds.pop()
    return rounds


def build(
    topo: Topology,
    hosts: list[str],
    gpu_for_rail: dict[str, list[int]],
    *,
    suite: str,
    reference_bytes: int,
) -> list[Unit]:
    """Every unit of the run, in the order they run (confirmation units come later)."""
    rails = len(topo.spec.node_profiles[topo.nodes[0].profile].compute_nics.rails)
    hosts = sorted(hosts, key=natural_key)
    ref = reference_bytes
    units: list[Unit] = []
    for h in hosts:
        gpus = gpu_for_rail.get(h) or list(range(rails))
        for r in range(rails):
            units.append(
                Unit(f"node/{h}/gdr/r{r}", "node", "gdr", (h,), rail=r, gpus=(gpus[r], gpus[r]))
            )
            units.append(Unit(f"node/{h}/host/r{r}", "node", "host", (h,), rail=r))
        units.append(
            Unit(
                f"node/{h}/nccl/all_reduce",
                "node",
                "nccl",
                (h,),
                collective="all_reduce",
                sizes=(ref, ref, 2),
            )
        )
    ring = {"NCCL_ALGO": "Ring"}
    for i, pairs in enumerate(pair_rounds(topo, hosts), start=1):
        for a, b in pairs:
            ga = gpu_for_rail.get(a) or list(range(rails))
            gb = gpu_for_rail.get(b) or list(range(rails))
            for r in range(rails):
                units.append(
                    Unit(
                        f"pair/{i}/{a}-{b}/gdr/r{r}",
                        "pair",
                        "gdr",
                        (a, b),
                        round=i,
                        rail=r,
                        gpus=(ga[r], gb[r]),
                    )
                )
            units.append(
                Unit(
                    f"pair/{i}/{a}-{b}/nccl/all_reduce",
                    "pair",
                    "nccl",
                    (a, b),
                    round=i,
                    collective="all_reduce",
                    sizes=(ref, ref, 2),
                    env=ring,
                )
            )
    if len(hosts) > 1:
        # the sweep always ends exactly at the reference size (the verdict's row)
        sweep = (
            (max(1, ref // 8**2), ref, 8) if suite == "quick" else (max(1, ref // 2**13), ref, 2)
        )
        for c in COLLECTIVES:
            units.append(
                Unit(f"cluster/{c}", "cluster", "nccl", tuple(hosts), collective=c, sizes=sweep)
            )
    return units
