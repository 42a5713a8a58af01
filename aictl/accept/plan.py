"""The benchmark plan: which test runs where, in which stage and round.

1. `node`: per node (nodes in parallel): GPUDirect `ib_write_bw` per rail, loopback through
   the rail's port, with the GPU nearest that NIC (from `nvidia-smi topo -m`, never GPU i <->
   mlx5_i), the same from host memory (GPUDirect off), and single-node NCCL all_reduce.
2. `pair`: rounds of disjoint pairs, every pair of a round at once (no NIC is shared, and the
   leaf uplinks of a non-blocking plan carry them all): round 1 pairs neighbours inside each SU
   (same rail leaf), round 2 pairs node i with node i + N/2 in (SU, slot) order, which crosses
   SUs and exercises the leaf uplinks. Per pair: GPUDirect per rail and a 2-node all_reduce
   with NCCL_ALGO=Ring (tree algorithms can beat the network bottleneck on two nodes).
3. `cluster`: every node of a collective domain: all_reduce, all_gather, reduce_scatter,
   alltoall, sendrecv (no sendrecv on Ascend) over a size sweep up to the reference size (the
   verdict's row); one set per domain when the cluster has several (`cluster/<domain>/<c>`).
Per vendor (aictl/topology/vendors.py): GPUDirect uses perftest's --use_cuda or --use_rocm;
Ascend NPUs carry their rails on their own ports, which perftest cannot reach, so a node's
rail test is hccn_tool's link and health of each port (`port`), and a pair's an NPU-to-NPU
ping over each rail (`ping`); a vendor without a benchmark gets host-memory perftest only.
4. `confirm`: added after the pairwise rounds when something is low (see localize.py).
Unit ids are stable strings, so a resumed run skips exactly what is finished.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aictl.accept.expect import collectives_of
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


def domains_of(topo: Topology, hosts: list[str]) -> dict[str, list[str]]:
    """`hosts` by collective domain (one fabric, one vendor), in name order."""
    out: dict[str, list[str]] = {}
    for h in sorted(hosts, key=natural_key):
        out.setdefault(topo.domain_of(h), []).append(h)
    return dict(sorted(out.items()))


def _rail_kind(topo: Topology, host: str) -> Kind:
    """How a node's rails are tested: GPUDirect where perftest reaches the accelerator's
    memory, host memory on PCIe NICs without it, a port check on integrated NPU ports."""
    prof = topo.profile(host)
    if not prof.host_rails:
        return Kind.PORT
    return Kind.GDR if prof.vendor.gdr_flag else Kind.HOST


def _has_benchmark(topo: Topology, host: str) -> bool:
    return topo.profile(host).vendor.benchmark != "none"


def ring_env(topo: Topology, host: str) -> tuple[tuple[str, str], ...]:
    """The 2-node test's algorithm pin: NCCL and RCCL read NCCL_ALGO; HCCL picks its own."""
    return RING if topo.profile(host).vendor.collective in ("NCCL", "RCCL") else ()


def _node_units(topo: Topology, h: str, g: tuple[int, ...], ref: int) -> list[Unit]:
    units: list[Unit] = []
    kind = _rail_kind(topo, h)
    for r in range(len(topo.profile(h).rails)):
        if kind is Kind.PORT:
            units.append(
                Unit(f"node/{h}/port/r{r}", Stage.NODE, Kind.PORT, (h,), rail=r, gpus=(r,))
            )
            continue
        if kind is Kind.GDR:
            units.append(
                Unit(f"node/{h}/gdr/r{r}", Stage.NODE, Kind.GDR, (h,), rail=r, gpus=(g[r], g[r]))
            )
        units.append(Unit(f"node/{h}/host/r{r}", Stage.NODE, Kind.HOST, (h,), rail=r))
    if _has_benchmark(topo, h):
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
    return units


def _pair_units(
    topo: Topology, i: int, a: str, b: str, ga: tuple[int, ...], gb: tuple[int, ...], ref: int
) -> list[Unit]:
    units: list[Unit] = []
    kind = _rail_kind(topo, a)
    # a PORT node's pair test is the NPU-to-NPU ping over each rail
    pair_kind = Kind.PING if kind is Kind.PORT else kind
    tag = pair_kind.value
    for r in range(min(len(ga), len(gb))):
        units.append(
            Unit(
                f"pair/{i}/{a}-{b}/{tag}/r{r}",
                Stage.PAIR,
                pair_kind,
                (a, b),
                round=i,
                rail=r,
                gpus=(r, r) if pair_kind is Kind.PING else (ga[r], gb[r]),
            )
        )
    if _has_benchmark(topo, a):
        units.append(
            Unit(
                f"pair/{i}/{a}-{b}/nccl/all_reduce",
                Stage.PAIR,
                Kind.NCCL,
                (a, b),
                round=i,
                collective="all_reduce",
                sizes=(ref, ref, 2),
                env=ring_env(topo, a),
            )
        )
    return units


def build(
    topo: Topology,
    hosts: list[str],
    gpu_for_rail: Mapping[str, tuple[int, ...]],
    *,
    suite: str,
    reference_bytes: int,
) -> list[Unit]:
    """Every unit of the run, in the order they run (confirmation units come later).

    Each node's rails, accelerators and tests come from its own profile; pairs and cluster
    tests stay inside a collective domain (one fabric, one vendor: no collective spans two),
    the domains' round i running side by side."""
    hosts = sorted(hosts, key=natural_key)
    ref = reference_bytes

    def gpus(h: str) -> tuple[int, ...]:
        return gpu_for_rail.get(h) or topo.profile(h).spec_gpu_for_rail()

    units: list[Unit] = []
    for h in hosts:
        units += _node_units(topo, h, gpus(h), ref)
    domains = domains_of(topo, hosts)
    rounds = [pair_rounds(topo, members) for members in domains.values()]
    for i in range(1, 1 + max((len(r) for r in rounds), default=0)):
        for per_domain in rounds:
            for a, b in per_domain[i - 1] if i <= len(per_domain) else ():
                units += _pair_units(topo, i, a, b, gpus(a), gpus(b), ref)
    # the sweep always ends exactly at the reference size (the verdict's row)
    sweep = (max(1, ref // 8**2), ref, 8) if suite == "quick" else (max(1, ref // 2**13), ref, 2)
    for name, members in domains.items():
        if len(members) < 2 or not _has_benchmark(topo, members[0]):
            continue
        several = len(domains) > 1
        for c in collectives_of(topo.profile(members[0]).gpu.vendor):
            units.append(
                Unit(
                    f"cluster/{name}/{c}" if several else f"cluster/{c}",
                    Stage.CLUSTER,
                    Kind.NCCL,
                    tuple(members),
                    collective=c,
                    sizes=sweep,
                    domain=name if several else "",
                )
            )
    return units
