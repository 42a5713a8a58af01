"""Routing as the subnet manager programmed it: LFT dumps and the opensm log.

`dump_fts`/`dump_lfts`/`ibroute` print, per switch, `Unicast lids [..] of switch ... guid 0x..
(<name>):` then `0x0014 001 : (Channel Adapter portguid 0x..: 'node05 mlx5_3')` rows. With
the discovered links, a route is followed hop by hop from the source HCA's leaf. Checks:
same-rail traffic inside an SU never leaves its leaf; a shift permutation across SUs loads the
leaf uplinks evenly (max vs mean flows per uplink); opensm used the intended engine.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from aictl.fabric import Finding
from aictl.fabric.naming import device_names
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from aictl.facts.ibnet import IbFabric, OpensmLog
    from aictl.topology.model import Topology


def check_routing(
    topo: Topology,
    fab: IbFabric,
    lfts: dict[str, dict[int, int]],
    *,
    opensm_log: OpensmLog | None = None,
    names: dict[str, str] | None = None,
    skip: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Findings and figures for the programmed routes (see the module docstring).

    HCAs named in `skip` (those with cabling findings) are left out of the permutation, so a
    miswire is reported once, by the cabling check, not again as imbalance it causes."""
    nodes = fab.nodes
    named = device_names(topo, fab, names)

    def name(nid: str) -> str:
        return named[nid]

    findings: list[Finding] = []
    by_name = {name(nid): nid for nid in nodes}
    # HCA endpoint -> (leaf id, leaf port); only HCAs of planned hosts
    host_rail: dict[str, tuple[str, int]] = {}
    for node in topo.nodes:
        for nic in topo.profile(node).host_rails:
            host_rail[f"{node.name} {nic.rdma_device}"] = (node.name, nic.index)
    su_of = {n.name: n.su for n in topo.nodes}
    cas = {nid: n for nid, n in nodes.items() if n.kind == "ca" and name(nid) in host_rail}
    missing_lft = sorted(
        (name(nid) for nid, n in nodes.items() if n.kind == "switch" and n.guid not in lfts),
        key=natural_key,
    )
    for sw in missing_lft:
        findings.append(
            Finding("lft-missing", sw, f"no forwarding table dumped for {sw}", "re-run dump_fts")
        )

    def route(src: str, dlid: int) -> list[tuple[str, int]] | None:
        """Switch hops (switch id, out port) from HCA `src` to `dlid`; None when it breaks."""
        hops: list[tuple[str, int]] = []
        cur = nodes[src].links.get(1, (None, 0, ""))[0]
        for _ in range(16):
            if cur is None or cur not in nodes or nodes[cur].kind != "switch":
                return None
            port = lfts.get(nodes[cur].guid, {}).get(dlid)
            if port is None or port == 0 or port == 255:
                return None
            hops.append((cur, port))
            nxt = nodes[cur].links.get(port)
            if nxt is None:
                return None
            if nodes.get(nxt[0]) is not None and nodes[nxt[0]].kind == "ca":
                return hops if nodes[nxt[0]].lid == dlid else None
            cur = nxt[0]
        return None

    # 1. same rail, same leaf: the leaf delivers to its own HCAs directly
    local_bad = 0
    for nid, ca in sorted(cas.items(), key=lambda kv: natural_key(name(kv[0]))):
        leaf_id, leaf_port, _ = ca.links.get(1, (None, 0, ""))
        if leaf_id is None or leaf_id not in nodes or ca.lid is None:
            continue
        out = lfts.get(nodes[leaf_id].guid, {}).get(ca.lid)
        if out is not None and out != leaf_port:
            local_bad += 1
            via = nodes[leaf_id].links.get(out)
            findings.append(
                Finding(
                    "route-leaves-leaf",
                    f"{name(leaf_id)} port {out}",
                    f"{name(leaf_id)} forwards LID {ca.lid} ({name(nid)}, its own port "
                    f"{leaf_port}) out of port {out}"
                    + (f" towards {name(via[0])}" if via and via[0] in nodes else ""),
                    "re-run the subnet manager (ftree) and check the ftree GUID files",
                )
            )
    # 2. cross-SU shift permutation per rail: flows per leaf uplink
    load: Counter[tuple[str, int]] = Counter()
    uplinks: set[tuple[str, int]] = set()
    for nid, n in nodes.items():
        if n.kind == "switch" and name(nid).startswith("leaf"):
            for p, (rid, _, _) in n.links.items():
                if rid in nodes and nodes[rid].kind == "switch":
                    uplinks.add((nid, p))
    rails: dict[int, list[tuple[int, str, str | None]]] = defaultdict(list)
    for ep, (host, r) in host_rail.items():
        found = by_name.get(ep)
        ok = found is not None and found in cas and ep not in skip
        rails[r].append((su_of[host], host, found if ok else None))
    pairs = broken = 0
    shift = topo.fabrics[0].shape.inp.nodes_per_su
    for r in sorted(rails):
        members = sorted(rails[r], key=lambda t: (t[0], natural_key(t[1])))
        if len({su for su, _, _ in members}) < 2:
            continue
        for i, (_su, _host, src) in enumerate(members):
            dst = members[(i + shift) % len(members)][2]
            dlid = nodes[dst].lid if dst is not None else None
            if src is None or dst is None or dlid is None:
                continue
            pairs += 1
            hops = route(src, dlid)
            if hops is None:
                broken += 1
                findings.append(
                    Finding(
                        "route-broken",
                        name(src),
                        f"no complete route from {name(src)} to {name(dst)} (LID {dlid})",
                        "check the cabling findings first, then the subnet manager",
                    )
                )
                continue
            for hop in hops:
                if hop in uplinks:
                    load[hop] += 1
    used = [load.get(u, 0) for u in uplinks]
    mean = sum(used) / len(used) if used else 0.0
    peak = max(used, default=0)
    if used and peak > math.ceil(mean) and mean > 0:
        worst = sorted(
            (u for u in uplinks if load[u] == peak), key=lambda u: natural_key(name(u[0]))
        )
        findings.append(
            Finding(
                "uplink-imbalance",
                ", ".join(f"{name(s)} port {p}" for s, p in worst[:4]),
                f"a cross-SU shift permutation puts {peak} flows on one leaf uplink; the mean "
                f"is {mean:.2f} (max/mean {peak / mean:.2f})",
                "make sure opensm runs ftree with the plan's root GUID file; look for "
                "missing or miswired spine cables",
            )
        )
    # 3. the engine opensm used
    engine = None
    intended = "ftree"
    if opensm_log is not None:
        engine, errors = opensm_log.engine, list(opensm_log.routing_errors)
        if engine != intended:
            findings.append(
                Finding(
                    "routing-engine",
                    "opensm",
                    f"opensm routed with {engine or 'no engine'}, the plan asks for {intended}"
                    + (f" ({errors[-1]})" if errors else ""),
                    "fix what the log says about ftree (root GUID file, topology not a fat "
                    "tree) and restart opensm",
                )
            )
    return {
        "switches": sum(1 for n in nodes.values() if n.kind == "switch"),
        "lfts": len(lfts),
        "local_violations": local_bad,
        "shift_pairs": pairs,
        "broken_routes": broken,
        "uplinks": len(uplinks),
        "uplink_flows_max": peak,
        "uplink_flows_mean": round(mean, 3),
        "uplink_max_over_mean": round(peak / mean, 3) if mean else None,
        "engine": engine,
        "findings": [f.as_dict() for f in findings],
        "ok": not findings,
    }
