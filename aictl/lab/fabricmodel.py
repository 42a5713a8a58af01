"""The numbers behind the lab's simulated benchmarks (stdlib only: also runs in lab nodes).

Input is the lab's fabric description (`fabric.json`: per node its rails, leaves, GPUs and
NVLink, plus the active faults). Modelled:
  * per-NIC line rate with protocol efficiency (perftest ~96.5 %, NCCL ~92 %);
  * GPUDirect: a GPU beside the NIC (PIX) runs at line rate, a far GPU at ~45 % (the ratio
    seen on real CX-7/H100 GPUDirect reads), a degraded GPU PCIe link caps the flow, a node
    without nvidia-peermem cannot register GPU memory at all;
  * flows sharing a link get max-min fair shares (NIC ports, and a leaf's uplinks to the
    spines, which cross-leaf and swapped-cable traffic uses);
  * collectives: ring busbw = sum over rails of the slowest node's NIC on that rail, capped by
    NVLink inside a node; alltoall is bound by one NIC;
  * faults: slow NIC (factor), port down (rate 0), swapped cables (the flow leaves its rail
    leaf), degraded PCIe, missing peermem (NCCL without GDR), fabric manager stopped (CUDA
    cannot initialise);
  * small deterministic noise (+-0.5 %), seeded by the cluster and the flow.
"""

from __future__ import annotations

import hashlib
from typing import Any

PERFTEST_EFF = 0.965
NCCL_EFF = 0.92
FAR_GPU = 0.45
NVLINK_EFF = 0.78
NO_GDR = 0.6


def noise(seed: str, *parts: object) -> float:
    """Deterministic factor in [0.995, 1.005]."""
    h = hashlib.sha256("/".join([seed, *map(str, parts)]).encode()).digest()
    return 0.995 + (int.from_bytes(h[:4], "big") / 0xFFFFFFFF) * 0.01


def faults(fab: dict[str, Any], host: str, kind: str) -> list[dict[str, Any]]:
    return [f for f in fab.get("faults", []) if f["host"] == host and f["kind"] == kind]


def nic_gbps(fab: dict[str, Any], host: str, rail: int) -> float:
    """Usable line rate of one NIC port (0 when the port is down)."""
    node = fab["nodes"][host]
    if any((f["rail"] or 0) == rail for f in faults(fab, host, "port-down")):
        return 0.0
    rate = float(node["nic_gbps"])
    for f in faults(fab, host, "slow-nic"):
        if (f["rail"] or 0) == rail:
            rate *= float(f["factor"] or 0.5)
    return rate


def leaf_of(fab: dict[str, Any], host: str, rail: int) -> str:
    """The leaf the NIC is cabled to now (swapped cables included)."""
    node = fab["nodes"][host]
    for f in fab.get("faults", []):
        if f["kind"] != "swap-cables":
            continue
        if f["host"] == host and (f["rail"] or 0) == rail:
            return str(fab["nodes"][f["with"]]["leaves"][f["with_rail"]])
        if f["with"] == host and f["with_rail"] == rail:
            return str(fab["nodes"][f["host"]]["leaves"][f["rail"] or 0])
    return str(node["leaves"][rail])


def gdr_factor(fab: dict[str, Any], host: str, rail: int, gpu: int | None) -> float | str:
    """GPUDirect penalty for using `gpu` with the rail NIC, or an error message."""
    if gpu is None:
        return 1.0
    node = fab["nodes"][host]
    if faults(fab, host, "peermem-missing"):
        return "Couldn't allocate MR"
    factor = 1.0 if gpu in node["pix"][rail] else FAR_GPU
    for f in faults(fab, host, "pcie-degraded"):
        if (f["gpu"] or 0) == gpu:
            width = int(f["factor"] or 8)
            # PCIe Gen4 lane ~ 15.75 Gb/s of payload
            factor = min(factor, width * 15.75 * 0.9 / node["nic_gbps"])
    return factor


def links(fab: dict[str, Any], a: str, ra: int, b: str, rb: int) -> list[tuple[str, float]]:
    """The shared resources a flow crosses, with their capacities (Gb/s)."""
    out = [(f"nic:{a}:{ra}", nic_gbps(fab, a, ra))]
    if (a, ra) != (b, rb):  # a loopback crosses its one (full-duplex) port once
        out.append((f"nic:{b}:{rb}", nic_gbps(fab, b, rb)))
    la, lb = leaf_of(fab, a, ra), leaf_of(fab, b, rb)
    if la != lb:
        # a node's own fabric (a plan may have several), else the plan's one
        node = fab["nodes"][a]
        up = float(
            node.get("leaf_uplinks", fab["leaf_uplinks"]) * node.get("link_gbps", fab["link_gbps"])
        )
        out += [(f"up:{la}", up), (f"up:{lb}", up)]
    return out


def fair_shares(flows: dict[str, list[tuple[str, float]]]) -> dict[str, float]:
    """Max-min fair rate of every flow over shared links (water-filling)."""
    rates: dict[str, float] = {}
    left = dict(flows)
    cap = {name: c for path in flows.values() for name, c in path}
    while left:
        users: dict[str, list[str]] = {}
        for fid, path in left.items():
            for name, _ in path:
                users.setdefault(name, []).append(fid)
        bottleneck = min(users, key=lambda n: cap[n] / len(users[n]))
        share = cap[bottleneck] / len(users[bottleneck])
        for fid in users[bottleneck]:
            rates[fid] = share
            for name, _ in left.pop(fid):
                cap[name] -= share
    return rates


def size_curve(peak: float, size: int, half: float) -> float:
    """Bandwidth at a message size: small messages are latency bound."""
    return peak * size / (size + half)


def perftest_gbps(
    fab: dict[str, Any],
    client: str,
    c_rail: int,
    c_gpu: int | None,
    server: str,
    s_rail: int,
    s_gpu: int | None,
    size: int,
    others: dict[str, list[tuple[str, float]]] | None = None,
) -> float | str:
    """Average Gb/s of one ib_*_bw flow at `size`, or the error the tool would print."""
    for host, rail in ((client, c_rail), (server, s_rail)):
        if nic_gbps(fab, host, rail) == 0:
            return "Failed status 12: wr_id 0 syndrom 0x81"
    gdr = [gdr_factor(fab, client, c_rail, c_gpu), gdr_factor(fab, server, s_rail, s_gpu)]
    for g in gdr:
        if isinstance(g, str):
            return g
    flows = dict(others or {})
    me = f"{client}:{c_rail}>{server}:{s_rail}"
    flows[me] = links(fab, client, c_rail, server, s_rail)
    rate = fair_shares(flows)[me] * PERFTEST_EFF
    rate *= min(float(g) for g in gdr)
    half = 2048 * max(rate, 1) / 100
    return size_curve(rate, size, half) * noise(fab["seed"], me, size)


def _ring_rail_gbps(fab: dict[str, Any], hosts: list[str], rail: int) -> float:
    rates = []
    for h in hosts:
        r = nic_gbps(fab, h, rail)
        pix = fab["nodes"][h]["pix"][rail]
        g = gdr_factor(fab, h, rail, pix[0] if pix else None)
        if isinstance(g, str):  # no peermem: NCCL falls back to host memory staging
            g = NO_GDR
        if (
            len({leaf_of(fab, x, rail) for x in hosts}) > 1
            and leaf_of(fab, h, rail) != fab["nodes"][h]["leaves"][rail]
        ):
            g *= 0.5  # a swapped cable: the ring's rail traffic detours through the spines
        rates.append(r * g)
    return min(rates)


def collective_busbw(fab: dict[str, Any], hosts: list[str], name: str) -> float | str:
    """Peak bus bandwidth (GB/s) of collective `name` over `hosts`, or a startup error."""
    for h in hosts:
        node = fab["nodes"][h]
        if node["nvswitch"] and faults(fab, h, "fabricmanager-stopped"):
            return f"{h}: Test CUDA failure common.cu:1304 'system not yet initialized'"
    intra = min(nvlink_gbytes(fab, h) for h in hosts) / 2 * NVLINK_EFF
    if len(hosts) == 1:
        return intra
    rails = fab["nodes"][hosts[0]].get("rails", fab["rails"])
    per_rail = [_ring_rail_gbps(fab, hosts, r) for r in range(rails)]
    if fab["nodes"][hosts[0]].get("vendor") == "huawei":
        # each NPU drives its own port: the slowest port paces every rank of the ring
        per_rail = [min(per_rail)] * rails
    if name == "alltoall":
        inter = max(per_rail) * NCCL_EFF / 8
    elif name == "sendrecv":
        inter = sum(per_rail) * NCCL_EFF / 8 / 2
    else:
        inter = sum(per_rail) * NCCL_EFF / 8
    return min(intra, inter)


def nvlink_gbytes(fab: dict[str, Any], host: str) -> float:
    """A node's usable NVLink bandwidth per GPU: its weakest GPU bounds every collective."""
    node = fab["nodes"][host]
    links = int(node.get("nvlinks") or 12)
    down = max((int(f["factor"] or 4) for f in faults(fab, host, "nvlink-down")), default=0)
    return float(node["nvlink_gbytes"]) * max(0, links - min(links, down)) / links


def bus_factor(name: str, ranks: int) -> float:
    """nccl-tests' busbw = algbw x this (doc/PERFORMANCE.md)."""
    if ranks <= 1:
        return 1.0
    if name == "all_reduce":
        return 2 * (ranks - 1) / ranks
    if name in ("all_gather", "reduce_scatter", "alltoall"):
        return (ranks - 1) / ranks
    return 1.0


def collective_time_us(
    peak_busbw: float, name: str, ranks: int, size: int, multi_node: bool
) -> float:
    """Per-iteration time (us) of one collective at `size` bytes."""
    latency = 30.0 if multi_node else 12.0
    bytes_on_bus = size * bus_factor(name, ranks)
    return latency + bytes_on_bus / (peak_busbw * 1e3)
