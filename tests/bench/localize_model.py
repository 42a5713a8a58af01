"""Slow-node localization on the fabric model alone (no lab): aictl's pairwise rounds and
confirmation round against bisection with whole-group all_reduce, for the same faults.

Durations are modelled from the same numbers the lab's simulated tools use: a GPUDirect
ib_write_bw of 8 MiB x 5000 iterations at the measured rate plus 2.5 s to start both sides;
a 2-node all_reduce of the reference size (20 iterations + 1 warmup) at the measured busbw
plus an mpirun launch of 3 s + 0.05 s per node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from aictl.accept import localize
from aictl.accept.expect import Expectations, expectations
from aictl.accept.model import Kind, Stage, Suspect, SuspectKind, UnitResult
from aictl.accept.plan import pair_rounds
from aictl.lab import fabricmodel as model
from aictl.lab.hardware import fabric_description
from aictl.spec.loader import parse_spec_text, preset_text
from aictl.status import Status
from aictl.topology import build_topology
from aictl.topology.model import Topology

PERF_BYTES = 8 * 2**20
PERF_ITERS = 5000
PERF_START_S = 2.5
NCCL_ITERS = 21


def cluster(nodes: int) -> Topology:
    """The h100-16k design (8 x 400G rails, 32-node SUs) cut to `nodes` nodes."""
    text = preset_text("h100-16k").replace("count: 2048", f"count: {nodes}")
    loaded = parse_spec_text(text, f"h100-{nodes}")
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


def launch_s(nodes: int) -> float:
    return 3.0 + 0.05 * nodes


@dataclass
class Outcome:
    rounds: int
    wall_s: float
    named: list[Suspect]
    tests: int


def _gdr(fab: dict[str, Any], a: str, b: str, rail: int) -> tuple[float, float]:
    pix_a, pix_b = fab["nodes"][a]["pix"][rail], fab["nodes"][b]["pix"][rail]
    v = model.perftest_gbps(fab, a, rail, pix_a[0], b, rail, pix_b[0], PERF_BYTES)
    gbps = 0.0 if isinstance(v, str) else float(v)
    secs = PERF_START_S + (PERF_BYTES * PERF_ITERS * 8 / (gbps * 1e9) if gbps else 30.0)
    return gbps, secs


def _allreduce(fab: dict[str, Any], hosts: list[str], ref: int, gpus: int) -> tuple[float, float]:
    v = model.collective_busbw(fab, hosts, "all_reduce")
    busbw = 0.0 if isinstance(v, str) else float(v)
    ranks = len(hosts) * gpus
    algbw = busbw / model.bus_factor("all_reduce", ranks) if busbw else 0.0
    secs = launch_s(len(hosts)) + (NCCL_ITERS * ref / (algbw * 1e9) if algbw else 60.0)
    return busbw, secs


def _round(
    fab: dict[str, Any],
    pairs: list[tuple[str, str, int | None]],
    exp: Expectations,
    rnd: int,
    stage: Stage = Stage.PAIR,
) -> tuple[list[UnitResult], float]:
    """Measure pairs (rail None: the 2-node all_reduce); a pair's tests run one after
    another, pairs in parallel; the round lasts as long as its slowest pair."""
    out = []
    per_pair: dict[tuple[str, str], float] = {}
    for a, b, rail in pairs:
        gpus = exp.group_of(a).gpus_per_node
        if rail is None:
            value, secs = _allreduce(fab, [a, b], exp.reference_bytes, gpus)
            kind, coll = Kind.NCCL, "all_reduce"
        else:
            value, secs = _gdr(fab, a, b, rail)
            kind, coll = Kind.GDR, None
        per_pair[(a, b)] = per_pair.get((a, b), 0.0) + secs
        out.append(
            UnitResult(
                id=f"{rnd}/{a}-{b}/{kind.value}/r{rail}",
                stage=stage,
                kind=kind,
                collective=coll,
                hosts=(a, b),
                rail=rail,
                value=value,
                round=rnd,
                status=Status.OK,
            )
        )
    return out, max(per_pair.values(), default=0.0)


def aictl_localize(topo: Topology, fab: dict[str, Any]) -> Outcome:
    """Pairwise round 1 (neighbours in each SU), then confirmation with known-good nodes."""
    exp = expectations(topo)
    hosts = [n.name for n in topo.nodes]
    first = pair_rounds(topo, hosts)[0]
    tests = [(a, b, r) for a, b in first for r in [*range(exp.rails), None]]
    results, wall = _round(fab, tests, exp, 1)
    low = localize.low_pairs(results, exp)
    rounds, n_tests = 1, len(tests)
    named: list[Suspect] = []
    if low:
        conf = localize.confirmation_pairs(low, hosts, set(), exp)
        ctests = [(c.suspect, c.partner, c.family.rail) for c in conf]
        confirm, cwall = _round(fab, ctests, exp, 2, Stage.CONFIRM)
        rounds, wall, n_tests = 2, wall + cwall, n_tests + len(ctests)
        leaf_of = {(h, r): fab["nodes"][h]["leaves"][r] for h in hosts for r in range(exp.rails)}
        named = localize.verdicts(
            low,
            confirm,
            expect=exp,
            reference=localize.reference(results, exp),
            leaf_of=leaf_of,
        )
    return Outcome(rounds, wall, named, n_tests)


def bisection(topo: Topology, fab: dict[str, Any]) -> Outcome:
    """Halve the suspect group with all_reduce until single nodes are left (both halves of a
    slow group run at once: disjoint nodes). Bisection is given a perfect detector (a group
    is slow exactly when it holds a slow NIC): with real busbw it is worse, see `group_drop`."""
    exp = expectations(topo)
    slow = {f["host"] for f in fab["faults"]}
    groups = [[n.name for n in topo.nodes]]
    rounds, wall, tests = 0, 0.0, 0
    found: list[str] = []
    while groups:
        rounds += 1
        secs, nxt = [], []
        for g in groups:
            _, s = _allreduce(fab, g, exp.reference_bytes, exp.group_of(g[0]).gpus_per_node)
            secs.append(s)
            tests += 1
            if slow & set(g):
                if len(g) == 1:
                    found += g
                else:
                    nxt += [g[: len(g) // 2], g[len(g) // 2 :]]
        wall += max(secs)
        groups = nxt
    return Outcome(
        rounds,
        wall,
        [Suspect(SuspectKind.PAIR_CONFIRMED, "bisection", node=h) for h in found],
        tests,
    )


def group_drop(topo: Topology, fab: dict[str, Any]) -> float:
    """How much one whole-cluster all_reduce loses to the faults (the signal bisection has)."""
    exp = expectations(topo)
    hosts = [n.name for n in topo.nodes]
    good, _ = _allreduce(
        {**fab, "faults": []}, hosts, exp.reference_bytes, exp.group_of(hosts[0]).gpus_per_node
    )
    bad, _ = _allreduce(fab, hosts, exp.reference_bytes, exp.group_of(hosts[0]).gpus_per_node)
    return 1 - bad / good


def slow_fabric(topo: Topology, slow: list[tuple[str, int]], factor: float = 0.5) -> dict[str, Any]:
    fab = fabric_description(topo)
    fab["faults"] = [
        {"kind": "slow-nic", "host": h, "rail": r, "factor": factor, "gpu": None, "with": None}
        for h, r in slow
    ]
    return fab


def spread(topo: Topology, k: int) -> list[tuple[str, int]]:
    """k slow NICs on nodes spread over the cluster, different rails."""
    step = max(1, len(topo.nodes) // k)
    return [(topo.nodes[i * step + 3].name, (i * 3) % topo.rails) for i in range(k)]


def bits(n: int) -> int:
    return math.ceil(math.log2(max(2, n)))
