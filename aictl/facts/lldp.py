"""`lldpctl -f json` (and `-f json0`): each local interface's neighbour, switch and port.

`lldp.interface` is an object (one interface) or a list of one-key objects (several; json0:
a list of objects with `name`); a chassis is keyed by its system name, carries `name`
(json0, or a neighbour without one in its key), or is unnamed (`id` at the top: no system name
sent). The port id is used when it is an interface name (`swp7`, `Ethernet1/1`), else the port
description (a MAC as port id says nothing, nor does a `local` id that is a bare ifIndex).
LLDP-MED, VLAN, power and unknown TLVs are ignored; with several neighbours on one port the
first is kept. No neighbour at all is
`{"lldp": {}}`: parsed, with no neighbours.
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


def _sysname(chassis: dict[str, Any]) -> str:
    """The switch's system name: `name` (json0, or -f json without a sysname key), else the
    one key whose value is the chassis itself (`{"leaf01": {"id": ...}}`); "" when the
    neighbour sends no system name."""
    if "name" in chassis:
        return _value(chassis["name"])
    if "id" in chassis:  # the chassis itself, unnamed
        return ""
    named = [k for k, v in chassis.items() if isinstance(v, dict | list)]
    return named[0] if named else ""


def _port(info: dict[str, Any]) -> str:
    """The switch port: its id when that is an interface name, else its description."""
    port = _first(info.get("port"))
    pid = _first(port.get("id")) if isinstance(port.get("id"), dict | list) else {}
    value = _value(pid) if pid else _value(port.get("id", ""))
    kind = pid.get("type")
    descr = _value(port.get("descr", ""))
    # a `local` id that is a bare number is an SNMP ifIndex (Junos): the description names it
    if kind == "local" and value.isdigit() and descr:
        return descr
    if kind in (None, "ifname", "local", "ifalias") and value:
        return value
    return descr or value


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
                items.append((_value(entry["name"]), entry))
            elif isinstance(entry, dict):
                items += list(entry.items())
    out: dict[str, Neighbour] = {}
    for ifname, raw in items:
        info = _first(raw)
        if not info or str(ifname) in out:  # several neighbours on one port: the first
            continue
        out[str(ifname)] = Neighbour(_sysname(_first(info.get("chassis"))), _port(info))
    return out


def parse_lldpctl(text: str) -> LldpNeighbours:
    """`lldpctl -f json` -> local interface -> (switch name, switch port)."""
    sim = is_simulated(text)
    body = text[text.index("{") :] if "{" in text else "{}"
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        return LldpNeighbours(**head("lldpctl", sim, [f"not lldpctl JSON: {exc}"]))
    if not text.strip():
        return LldpNeighbours(**head("lldpctl", sim, [], empty=True))
    if not isinstance(data, dict) or "lldp" not in data:
        return LldpNeighbours(**head("lldpctl", sim, ['no "lldp" object: not lldpctl JSON']))
    # `{"lldp": {}}` is lldpctl's answer when no neighbour is seen: a fact, not a failure
    seen = _neighbours(data)
    return LldpNeighbours(**head("lldpctl", sim, []), neighbours=seen)
