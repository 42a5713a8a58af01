"""FRR's BGP state as vtysh prints it in JSON: `show bgp summary json` (all address families,
or one with `show bgp ipv4 unicast summary json`) and `show ip route json`.

The summary's peers are keyed by neighbor: an interface name for BGP unnumbered (`swp33`),
an address otherwise; each has `state` (Established, Active, Connect, Idle...), the peer's
`hostname` when the capability is exchanged, `remoteAs` and `pfxRcd`. A route entry lists the
prefix's candidate routes with `protocol`, `selected`, `installed` and the next hops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_simulated, lines_of


@dataclass(frozen=True, slots=True)
class BgpPeer:
    """One BGP neighbor of one address family."""

    neighbor: str
    afi: str
    state: str
    hostname: str | None = None
    remote_as: int | None = None
    prefixes_received: int | None = None


@dataclass(frozen=True, kw_only=True)
class BgpSummary(Parsed):
    """`show bgp [ipv4 unicast] summary json`."""

    router_id: str | None = None
    local_as: int | None = None
    peers: tuple[BgpPeer, ...] = ()


@dataclass(frozen=True, slots=True)
class Route:
    """The selected route of one prefix (or the first, when none is selected)."""

    prefix: str
    protocol: str
    selected: bool
    installed: bool
    nexthops: int


@dataclass(frozen=True, kw_only=True)
class IpRoutes(Parsed):
    """`show ip route json`."""

    routes: tuple[Route, ...] = ()


def _json(text: str) -> tuple[Any, str | None]:
    body = "\n".join(lines_of(text)).strip()
    start = body.find("{")
    if start < 0:
        return None, (body.splitlines()[0][:200] if body else None)
    try:
        return json.loads(body[start : body.rfind("}") + 1]), None
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc.msg} (line {exc.lineno})"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_bgp_summary(text: str) -> BgpSummary:
    """vtysh `show bgp summary json` -> router id, AS and every peer's state."""
    doc, error = _json(text)
    peers: list[BgpPeer] = []
    router_id, local_as = None, None
    if isinstance(doc, dict):
        # one address family's summary has "peers" at the top; all of them nest by family
        families = {"ipv4Unicast": doc} if "peers" in doc else doc
        for afi, fam in sorted(families.items()):
            if not isinstance(fam, dict) or not isinstance(fam.get("peers"), dict):
                continue
            router_id = router_id or fam.get("routerId")
            local_as = local_as or _int(fam.get("as"))
            for name, p in sorted(fam["peers"].items()):
                if not isinstance(p, dict):
                    continue
                peers.append(
                    BgpPeer(
                        str(name),
                        afi,
                        str(p.get("state", "?")),
                        str(p["hostname"]) if p.get("hostname") else None,
                        _int(p.get("remoteAs")),
                        _int(p.get("pfxRcd")),
                    )
                )
    errors = [error] if error and doc is None and text.strip() else []
    return BgpSummary(
        **head("bgp-summary", is_simulated(text), errors, empty=not isinstance(doc, dict)),
        router_id=str(router_id) if router_id else None,
        local_as=local_as,
        peers=tuple(peers),
    )


def parse_ip_route(text: str) -> IpRoutes:
    """vtysh `show ip route json` -> each prefix's selected route."""
    doc, error = _json(text)
    routes = []
    if isinstance(doc, dict):
        for prefix, entries in sorted(doc.items()):
            if not isinstance(entries, list) or not entries:
                continue
            cands = [e for e in entries if isinstance(e, dict)]
            best = next((e for e in cands if e.get("selected")), cands[0] if cands else None)
            if best is None:
                continue
            raw = best.get("nexthops")
            hops: list[Any] = raw if isinstance(raw, list) else []
            routes.append(
                Route(
                    str(prefix),
                    str(best.get("protocol", "?")),
                    bool(best.get("selected")),
                    bool(best.get("installed")),
                    sum(
                        1
                        for h in hops
                        if isinstance(h, dict) and bool(h.get("fib", h.get("active")))
                    ),
                )
            )
    errors = [error] if error and doc is None and text.strip() else []
    return IpRoutes(
        **head("ip-route", is_simulated(text), errors, empty=not isinstance(doc, dict)),
        routes=tuple(routes),
    )
