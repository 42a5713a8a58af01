"""The Ethernet side: LLDP neighbours of each bond member against the planned ToR ports.

`lldpctl -f json` nests `lldp.interface` as an object (one interface) or a list of one-key
objects (several); a chassis is keyed by its system name (or carries `name` in the json0
format); the port id is usually the switch's ifname (`swp7`), else its description is used.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aictl.fabric import Finding
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from aictl.topology.model import Topology


def _value(v: Any) -> str:
    if isinstance(v, list):
        v = v[0] if v else ""
    if isinstance(v, dict):
        v = v.get("value", "")
    return str(v)


def parse_lldpctl(text: str) -> dict[str, tuple[str, str]]:
    """`lldpctl -f json` -> local interface -> (switch name, switch port)."""
    body = text[text.index("{") :] if "{" in text else "{}"
    data = json.loads(body)
    ifaces = (data.get("lldp") or {}).get("interface") or {}
    items: list[tuple[str, dict[str, Any]]] = []
    if isinstance(ifaces, dict):
        items = list(ifaces.items())
    else:
        for entry in ifaces:
            if isinstance(entry, dict) and "name" in entry:
                items.append((entry["name"], entry))
            elif isinstance(entry, dict):
                items += list(entry.items())
    out: dict[str, tuple[str, str]] = {}
    for ifname, info in items:
        chassis = info.get("chassis") or {}
        if isinstance(chassis, list):
            chassis = chassis[0] if chassis else {}
        if "name" in chassis:
            sysname = _value(chassis["name"])
        else:
            keys = [k for k in chassis if k not in ("id", "descr", "mgmt-ip", "capability")]
            sysname = keys[0] if keys else ""
        port = info.get("port") or {}
        if isinstance(port, list):
            port = port[0] if port else {}
        pid = port.get("id") or {}
        pid_type = pid.get("type") if isinstance(pid, dict) else None
        name = (
            _value(pid) if pid_type in (None, "ifname", "local") else _value(port.get("descr", ""))
        )
        out[ifname] = (sysname, name)
    return out


def check_lldp(topo: Topology, seen: dict[str, dict[str, tuple[str, str]]]) -> dict[str, Any]:
    """Per host: each planned bond member must see its planned ToR and port over LLDP."""
    findings: list[Finding] = []
    checked = 0
    for node in topo.nodes:
        if node.name not in seen:
            continue
        prof = topo.spec.node_profiles[node.profile]
        members = list(prof.storage_nics.netdevs) if prof.storage_nics else []
        got = seen[node.name]
        for member, (tor, port) in zip(members, node.tor_ports, strict=False):
            checked += 1
            have = got.get(member)
            where = f"{node.name} {member}"
            if have is None:
                findings.append(
                    Finding(
                        "lldp-missing",
                        where,
                        f"{where}: no LLDP neighbour (planned {tor} {port})",
                        "check the cable and that lldpd runs on the host and LLDP on the ToR",
                    )
                )
            elif have != (tor, port):
                findings.append(
                    Finding(
                        "lldp-miswire",
                        where,
                        f"{where} is cabled to {have[0]} {have[1]}; the plan has {tor} {port}",
                        f"move the cable at {have[0]} {have[1]} to {tor} {port}",
                    )
                )
    findings.sort(key=lambda f: natural_key(f.where))
    return {
        "hosts": len(seen),
        "not_checked": [n.name for n in topo.nodes if n.name not in seen],
        "members_checked": checked,
        "findings": [f.as_dict() for f in findings],
        "ok": not findings,
    }
