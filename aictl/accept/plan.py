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

from typing import TYPE_CHECKING

from aictl.accept.expect import COLLECTIVES
from aictl.accept.model import Kind, Stage, Unit
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from collections.abc import Mapping

    from aictl.topology.model import Topology

RING = (("NCCL_ALGO", "Ring"),)


def pair_rounds(topo: Topology, hosts: list[str]) -> list[list[tuple[str, str]]]:
    """Round 1: neighbours inside each SU; round 2: i <-> i + N/2 in (SU, slot) order."""
    wanted = set(hosts)
    order = sorted(
        (n for n in topo.nodes if n.name in wanted), key=lambda n: (n.su, n.slot, n.name)
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
    gpu_for_rail: Mapping[str, tuple[int, ...]],
    *,
    suite: str,
    reference_bytes: int,
) -> list[Unit]:
    """Every unit of the run, in the order they run (confirmation units come later).

    Each node's rails and GPUs come from its own profile (every profile of a fabric has the
    same number of rails)."""
    hosts = sorted(hosts, key=natural_key)
    ref = reference_bytes

    def gpus(h: str) -> tuple[int, ...]:
        return gpu_for_rail.get(h) or topo.profile(h).spec_gpu_for_rail()

    units: list[Unit] = []
    for h in hosts:
        g = gpus(h)
        for r in range(len(topo.profile(h).rails)):
            units.append(
                Unit(f"node/{h}/gdr/r{r}", Stage.NODE, Kind.GDR, (h,), rail=r, gpus=(g[r], g[r]))
            )
            units.append(Unit(f"node/{h}/host/r{r}", Stage.NODE, Kind.HOST, (h,), rail=r))
        units.append(
            Unit(
                f"node/{h}/nccl/all_reduce",
                Stage.NODE,
                Kind.NCCL,
                (h,),
                collective="all_reduce",
                sizes=(ref, ref, 2),
            )
        )
    for i, pairs in enumerate(pair_rounds(topo, hosts), start=1):
        for a, b in pairs:
            ga, gb = gpus(a), gpus(b)
            for r in range(min(len(ga), len(gb))):
                units.append(
                    Unit(
                        f"pair/{i}/{a}-{b}/gdr/r{r}",
                        Stage.PAIR,
                        Kind.GDR,
                        (a, b),
                        round=i,
                        rail=r,
                        gpus=(ga[r], gb[r]),
                    )
                )
            units.append(
                Unit(
                    f"pair/{i}/{a}-{b}/nccl/all_reduce",
                    Stage.PAIR,
                    Kind.NCCL,
                    (a, b),
                    round=i,
                    collective="all_reduce",
                    sizes=(ref, ref, 2),
                    env=RING,
                )
            )
    if len(hosts) > 1:
        # the sweep always ends exactly at the reference size (the verdict's row)
        sweep = (
            (max(1, ref // 8**2), ref, 8) if suite == "quick" else (max(1, ref // 2**13), ref, 2)
        )
        for c in COLLECTIVES:
            units.append(
                Unit(
                    f"cluster/{c}",
                    Stage.CLUSTER,
                    Kind.NCCL,
                    tuple(hosts),
                    collective=c,
                    sizes=sweep,
                )
            )
    return units
