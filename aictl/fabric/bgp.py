"""RoCE fabrics: the switches' BGP underlay against the plan, from FRR's own JSON.

For every planned leaf-spine (and spine-core) cable whose two switches were read, each end
must have its BGP session (BGP unnumbered: the neighbor is the port, `swp<port>`)
Established; and every switch read must have an installed BGP route to the loopback of every
other switch read (what the rendered `network <loopback>/32` statements announce) — except
those of its own AS, which eBGP's loop prevention keeps out by design (spine to spine). Reading a
part of the fabric checks that part: sessions and routes to switches that were not read are
not expected. Inputs are `vtysh -c 'show bgp summary json'` and `vtysh -c 'show ip route
json'` per switch (live, or saved as `<switch>.summary.json` / `<switch>.routes.json`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aictl.fabric import Finding
from aictl.facts.frr import BgpSummary, IpRoutes, parse_bgp_summary, parse_ip_route
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from pathlib import Path

    from aictl.topology.model import Topology

_ROUTED = ("leaf", "spine", "core")


def read_dir(folder: Path) -> tuple[dict[str, BgpSummary], dict[str, IpRoutes]]:
    """`<switch>.summary.json` and `<switch>.routes.json` files saved from vtysh."""
    summaries = {
        f.name.removesuffix(".summary.json"): parse_bgp_summary(f.read_text(errors="replace"))
        for f in sorted(folder.glob("*.summary.json"))
    }
    routes = {
        f.name.removesuffix(".routes.json"): parse_ip_route(f.read_text(errors="replace"))
        for f in sorted(folder.glob("*.routes.json"))
    }
    return summaries, routes


def _sessions(topo: Topology, among: set[str]) -> list[tuple[str, str, str, str]]:
    """(switch, its port, peer switch, peer port) for both ends of every routed cable."""
    out = []
    for c in topo.cables:
        both = c.a_device in among and c.b_device in among and c.tier != "node-leaf"
        if both and c.a_port.isdigit() and c.b_port.isdigit():
            out.append((c.a_device, c.a_port, c.b_device, c.b_port))
            out.append((c.b_device, c.b_port, c.a_device, c.a_port))
    return out


def check_bgp(
    topo: Topology, summaries: dict[str, BgpSummary], routes: dict[str, IpRoutes]
) -> dict[str, Any]:
    """The `bgp` part of verify.json."""
    routed = {s.name: s for s in topo.switches if s.role in _ROUTED}
    among = {n for n in summaries if n in routed}
    findings: list[Finding] = []
    for name in sorted(set(summaries) - set(routed), key=natural_key):
        findings.append(
            Finding(
                "unknown-device",
                name,
                "BGP output for a switch the plan does not route",
                "name the file after a planned leaf, spine or core switch",
            )
        )
    established = 0
    down: set[tuple[str, str]] = set()  # switch pairs whose direct session is not up
    for sw, port, peer, peer_port in sorted(
        _sessions(topo, among), key=lambda s: (natural_key(s[0]), int(s[1]))
    ):
        summary = summaries[sw]
        where = f"{sw} swp{port}"
        if not summary.ok:
            continue  # said once below
        ps = [p for p in summary.peers if p.neighbor == f"swp{port}" and p.afi == "ipv4Unicast"]
        cable = f"the cable {sw} swp{port} - {peer} swp{peer_port}"
        if not ps:
            findings.append(
                Finding(
                    "bgp-session-missing",
                    where,
                    f"no BGP neighbor swp{port} (planned: {peer} swp{peer_port})",
                    f"re-apply the rendered frr.conf on {sw} (neighbor swp{port} interface "
                    "peer-group FABRIC)",
                )
            )
        elif ps[0].state != "Established":
            down |= {(sw, peer), (peer, sw)}
            findings.append(
                Finding(
                    "bgp-session-down",
                    where,
                    f"BGP to {peer} is {ps[0].state}",
                    f"check {cable} (link up on both ends, LLDP), then the peer's BGP "
                    "configuration (remote-as, the interface in its peer group)",
                    detail={"peer": peer, "peer_port": int(peer_port), "state": ps[0].state},
                )
            )
        else:
            established += 1
            # the AS tells a leaf from a spine (a hostname is the box's, not always the plan's)
            want = routed[peer].asn
            if ps[0].remote_as and want and ps[0].remote_as != want:
                findings.append(
                    Finding(
                        "bgp-wrong-peer",
                        where,
                        f"BGP on swp{port} is with AS {ps[0].remote_as}"
                        + (f" ({ps[0].hostname})" if ps[0].hostname else "")
                        + f", planned {peer} (AS {want})",
                        f"the cable in {sw} swp{port} goes to the wrong switch: move it to "
                        f"{peer} swp{peer_port}",
                    )
                )
    for name in sorted(among, key=natural_key):
        if not summaries[name].ok:
            why = summaries[name].failure
            findings.append(
                Finding(
                    "bgp-unreadable",
                    name,
                    f"cannot read its BGP summary: {why.message if why else 'no output'}",
                    "is bgpd running? vtysh -c 'show bgp summary json' on the switch",
                )
            )
    expected = 0
    for name in sorted(among, key=natural_key):
        table = routes.get(name)
        if table is None or not table.ok:
            continue
        have = {r.prefix: r for r in table.routes}
        for other in sorted(among - {name}, key=natural_key):
            lo = routed[other].loopback
            # switches of one AS (the spines, RFC 7938) never take each other's routes: eBGP
            # loop prevention drops a path that carries their own AS
            if not lo or (routed[other].asn and routed[other].asn == routed[name].asn):
                continue
            if (name, other) in down:
                continue  # the session down is the finding: no other path is planned
            expected += 1
            r = have.get(f"{lo}/32")
            if r is None or r.protocol != "bgp" or not r.installed:
                got = "absent" if r is None else f"{r.protocol}, installed {r.installed}"
                findings.append(
                    Finding(
                        "bgp-route-missing",
                        f"{name} -> {other}",
                        f"no installed BGP route to {other}'s loopback {lo}/32 ({got})",
                        f"check that {other} announces it (network {lo}/32 in its frr.conf) and "
                        f"the sessions on the path from {name}",
                    )
                )
    return {
        "switches": sorted(among, key=natural_key),
        "sessions_planned": len(_sessions(topo, among)),
        "sessions_established": established,
        "routes_expected": expected,
        "findings": [f.as_dict() for f in findings],
    }
