"""Parsers for host facts: lspci -vvv (PCIe links, ACS), lsmod, the bonding driver's status
file, `ip -j link`, `systemctl is-active`."""

from __future__ import annotations

import json
import re
from typing import Any

from aictl.checks._text import is_prompt, kv, lines_of, result

_DEV = re.compile(r"^([0-9a-fA-F]{4}:)?([0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]) (.+)$")
_LINK = re.compile(r"Speed ([\d.]+)GT/s[^,]*, Width x(\d+)")


def parse_lspci(text: str) -> dict[str, Any]:
    """`lspci -vvv` -> devices with class, PCIe link (capable vs status) and ACS control."""
    devices: list[dict[str, Any]] = []
    for ln in lines_of(text):
        m = _DEV.match(ln)
        if m:
            cls, _, desc = m.group(3).partition(": ")
            devices.append(
                {
                    "bdf": (m.group(1) or "0000:") + m.group(2),
                    "class": cls,
                    "description": desc,
                    "link_cap": None,
                    "link_sta": None,
                    "acs_ctl": None,
                }
            )
            continue
        if not devices:
            continue
        d = devices[-1]
        s = ln.strip()
        if s.startswith(("LnkCap:", "LnkSta:")):
            lm = _LINK.search(s)
            if lm:
                key = "link_cap" if s.startswith("LnkCap") else "link_sta"
                d[key] = {"gts": float(lm.group(1)), "width": int(lm.group(2))}
        elif s.startswith("ACSCtl:"):
            flags = dict(re.findall(r"(\w+)([+-])", s.split(":", 1)[1]))
            d["acs_ctl"] = {k: v == "+" for k, v in flags.items()}
    return result("lspci", text, devices=devices, empty=not devices)


def parse_lsmod(text: str) -> dict[str, Any]:
    """`lsmod` -> module names."""
    mods = []
    for ln in lines_of(text):
        t = ln.split()
        if len(t) >= 3 and t[0] != "Module" and t[1].isdigit():
            mods.append(t[0])
    return result("lsmod", text, modules=sorted(mods), empty=not mods)


def parse_bonding(text: str) -> dict[str, Any]:
    """/proc/net/bonding/<bond> -> mode, hash policy, active aggregator, members."""
    info: dict[str, Any] = {
        "mode": None,
        "hash_policy": None,
        "mii_status": None,
        "lacp_rate": None,
        "active_aggregator": None,
        "members": [],
    }
    section = "bond"
    member: dict[str, Any] | None = None
    errors = []
    for ln in lines_of(text):
        pair = kv(ln)
        if ln.strip() == "Active Aggregator Info:":
            section = "active"
            continue
        if pair is None:
            if "No such file" in ln:
                errors.append(ln.strip())
            continue
        key, value = pair
        if key == "Slave Interface":
            member = {"name": value, "mii_status": None, "speed_mbps": None, "aggregator": None}
            info["members"].append(member)
            section = "member"
        elif section == "member" and member is not None:
            if key == "MII Status":
                member["mii_status"] = value
            elif key == "Speed":
                member["speed_mbps"] = int(value.split()[0]) if value[:1].isdigit() else None
            elif key == "Aggregator ID":
                member["aggregator"] = int(value) if value.isdigit() else None
        elif section == "active" and key == "Aggregator ID":
            info["active_aggregator"] = int(value) if value.isdigit() else None
        elif key == "Bonding Mode":
            info["mode"] = value
        elif key == "Transmit Hash Policy":
            info["hash_policy"] = value.split()[0]
        elif key == "MII Status":
            info["mii_status"] = value
        elif key == "LACP rate":
            info["lacp_rate"] = value
    return result("bonding", text, **info, errors=errors, empty=info["mode"] is None)


def parse_ip_link(text: str) -> dict[str, Any]:
    """`ip -j link show` -> {ifname: {mtu, state}}."""
    body = "\n".join(ln for ln in lines_of(text) if not is_prompt(ln))
    try:
        data = json.loads(body[body.index("[") :]) if "[" in body else []
    except json.JSONDecodeError as exc:
        return result("ip-link", text, links={}, errors=[f"not JSON: {exc.msg}"])
    links = {
        d["ifname"]: {"mtu": d.get("mtu"), "state": d.get("operstate"), "master": d.get("master")}
        for d in data
        if isinstance(d, dict) and "ifname" in d
    }
    return result("ip-link", text, links=links, empty=not links)


def parse_is_active(text: str) -> dict[str, Any]:
    """`systemctl is-active UNIT` -> the state word."""
    words = [ln.strip() for ln in lines_of(text) if ln.strip()]
    state = words[-1] if words else None
    return result("systemctl", text, state=state, empty=state is None)
