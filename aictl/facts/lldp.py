"""`lldpctl -f json` (and `-f json0`): each local interface's neighbour, switch and port.

`lldp.interface` is an object (one interface) or a list of one-key objects (several); a
chassis is keyed by its system name (or carries `name` in the json0 format); the port id is
usually the switch's ifname (`swp7`), else its description is used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_simulated


@dataclass(frozen=True, slots=True)
class Neighbour:
    """What one local interface sees over LLDP."""

    switch: str
    port: str


@dataclass(frozen=True, kw_only=True)
class LldpNeighbours(Parsed):
    """Local interface -> neighbour."""

    neighbours: dict[str, Neighbour] = field(default_factory=dict)


def _value(v: Any) -> str:
    if isinstance(v, list):
        v = v[0] if v else ""
    if isinstance(v, dict):
        v = v.get("value", "")
    return str(v)


def _first(v: Any) -> dict[str, Any]:
    if isinstance(v, list):
        v = v[0] if v else {}
    return v if isinstance(v, dict) else {}


def _neighbours(data: Any) -> dict[str, Neighbour]:
    lldp = data.get("lldp") if isinstance(data, dict) else None
    lldp = _first(lldp)
    ifaces = lldp.get("interface") or {}
    items: list[tuple[str, Any]] = []
    if isinstance(ifaces, dict):
        items = list(ifaces.items())
    elif isinstance(ifaces, list):
        for entry in ifaces:
            if isinstance(entry, dict) and "name" in entry:
                items.append((str(entry["name"]), entry))
            elif isinstance(entry, dict):
                items += list(entry.items())
    out: dict[str, Neighbour] = {}
    for ifname, raw in items:
        info = _first(raw)
        chassis = _first(info.get("chassis"))
        if "name" in chassis:
            sysname = _value(chassis["name"])
        else:
            keys = [k for k in chassis if k not in ("id", "descr", "mgmt-ip", "capability")]
            sysname = keys[0] if keys else ""
        port = _first(info.get("port"))
        pid = port.get("id") or {}
        pid_type = pid.get("type") if isinstance(pid, dict) else None
        name = (
            _value(pid) if pid_type in (None, "ifname", "local") else _value(port.get("descr", ""))
        )
        out[str(ifname)] = Neighbour(sysname, name)
    return out


def parse_lldpctl(text: str) -> LldpNeighbours:
    """`lldpctl -f json` -> local interface -> (switch name, switch port)."""
    sim = is_simulated(text)
    body = text[text.index("{") :] if "{" in text else "{}"
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        return LldpNeighbours(**head("lldpctl", sim, [f"not lldpctl JSON: {exc}"]))
    seen = _neighbours(data)
    return LldpNeighbours(**head("lldpctl", sim, [], empty=not seen), neighbours=seen)
