"""Parsers for the HCA tools: ibstat, ibv_devinfo, show_gids, ibdev2netdev, ofed_info.

All port facts come out in one shape, {device, port, state, physical_state, rate_gbps,
link_layer}, whichever tool printed them, so rules do not care which one ran.
"""

from __future__ import annotations

import re
from typing import Any

from aictl.checks._text import is_prompt, kv, lines_of, result

_STATE = {"PORT_ACTIVE": "Active", "PORT_DOWN": "Down", "PORT_INIT": "Initializing"}
_STATE.update({"PORT_ARMED": "Armed", "PORT_ACTIVE_DEFER": "ActiveDefer"})


def _port(device: str, port: int) -> dict[str, Any]:
    return {
        "device": device,
        "port": port,
        "state": None,
        "physical_state": None,
        "rate_gbps": None,
        "link_layer": None,
        "lid": None,
        "port_guid": None,
    }


def _num(value: str) -> float | int | None:
    m = re.match(r"^([\d.]+)", value)
    if not m:
        return None
    f = float(m.group(1))
    return int(f) if f.is_integer() else f


def parse_ibstat(text: str) -> dict[str, Any]:
    """`ibstat [dev]` -> ports; `ibpanic` lines (partial output) become errors."""
    ports: list[dict[str, Any]] = []
    cas: list[dict[str, Any]] = []
    errors: list[str] = []
    unparsed: list[str] = []
    ca: dict[str, Any] | None = None
    port: dict[str, Any] | None = None
    for ln in lines_of(text):
        s = ln.strip()
        if not s or is_prompt(ln):
            continue
        m = re.match(r"^CA '([^']+)'$", s)
        if m:
            ca = {"device": m.group(1)}
            cas.append(ca)
            port = None
            continue
        if s.startswith(("ibpanic:", "ibwarn:", "ibstat:")):
            if s.startswith(("ibpanic", "ibstat")):  # ibwarn lines are noise
                errors.append(s)
            continue
        m = re.match(r"^Port (\d+):$", s)
        if m and ca is not None:
            port = _port(ca["device"], int(m.group(1)))
            ports.append(port)
            continue
        pair = kv(s)
        if pair is None or ca is None:
            unparsed.append(s)
            continue
        key, value = pair
        if port is None:
            ca[key.lower().replace(" ", "_")] = value
        elif key == "State":
            port["state"] = value
        elif key == "Physical state":
            port["physical_state"] = value
        elif key == "Rate":
            port["rate_gbps"] = _num(value)
        elif key == "Link layer":
            port["link_layer"] = value
        elif key == "Base lid":
            port["lid"] = int(value) if value.isdigit() else None
        elif key == "Port GUID":
            port["port_guid"] = value.lower().removeprefix("0x")
    return result(
        "ibstat",
        text,
        devices=cas,
        ports=ports,
        errors=errors,
        empty=not cas,
        unparsed=unparsed[:20],
    )


def parse_ibv_devinfo(text: str) -> dict[str, Any]:
    """`ibv_devinfo [-v] [-d dev]` (old `Device ports:` layout or new) -> ports."""
    ports: list[dict[str, Any]] = []
    devices: list[dict[str, Any]] = []
    errors: list[str] = []
    dev: dict[str, Any] | None = None
    port: dict[str, Any] | None = None
    width = speed = None
    for ln in lines_of(text):
        s = ln.strip()
        if not s or is_prompt(ln) or s.startswith("#"):
            continue
        pair = kv(s)
        if pair is None:
            if "ailed" in s or "No IB devices" in s:
                errors.append(s)
            continue
        key, value = pair
        if key == "hca_id":
            dev = {"device": value}
            devices.append(dev)
            port = None
        elif key == "port" and dev is not None:
            port = _port(dev["device"], int(value) if value.isdigit() else 0)
            ports.append(port)
            width = speed = None
        elif port is not None:
            if key == "state":
                port["state"] = _STATE.get(value.split()[0], value.split()[0])
            elif key == "phys_state":
                port["physical_state"] = re.sub(r"\s*\(\d+\)$", "", value).title()
            elif key == "link_layer":
                port["link_layer"] = value
            elif key == "port_lid":
                port["lid"] = int(value) if value.isdigit() else None
            elif key == "active_mtu":
                port["active_mtu"] = int(value.split()[0]) if value[:1].isdigit() else None
            elif key == "active_width":
                width = _num(value)
            elif key == "active_speed":
                speed = _num(value)
            if width and speed:
                port["rate_gbps"] = _num(str(round(float(width) * float(speed), 1)))
        elif dev is not None:
            dev[key] = value
    return result(
        "ibv_devinfo", text, devices=devices, ports=ports, errors=errors, empty=not devices
    )


def parse_show_gids(text: str) -> dict[str, Any]:
    """`show_gids [dev]` -> GID rows with RoCE version, IPv4 and netdev."""
    gids: list[dict[str, Any]] = []
    found = None
    unparsed: list[str] = []
    for ln in lines_of(text):
        t = ln.split()
        if not t or is_prompt(ln) or t[0] in ("DEV", "---"):
            continue
        if t[0].startswith("n_gids_found="):
            found = int(t[0].split("=", 1)[1])
            continue
        if len(t) in (6, 7) and t[1].isdigit() and t[2].isdigit():
            ipv4 = t[4] if len(t) == 7 else ""
            gids.append(
                {
                    "device": t[0],
                    "port": int(t[1]),
                    "index": int(t[2]),
                    "gid": t[3],
                    "ipv4": ipv4,
                    "version": t[-2],
                    "netdev": t[-1],
                }
            )
        else:
            unparsed.append(ln)
    errors = [] if found in (None, len(gids)) else [f"n_gids_found={found}, {len(gids)} rows"]
    return result("show_gids", text, gids=gids, errors=errors, empty=not gids, unparsed=unparsed)


def parse_ibdev2netdev(text: str) -> dict[str, Any]:
    """`ibdev2netdev` -> {device, port, netdev, up}."""
    links = []
    for ln in lines_of(text):
        m = re.match(r"^(\S+) port (\d+) ==> (\S+) \((\w+)\)", ln.strip())
        if m:
            links.append(
                {
                    "device": m.group(1),
                    "port": int(m.group(2)),
                    "netdev": m.group(3),
                    "up": m.group(4) == "Up",
                }
            )
    return result("ibdev2netdev", text, links=links, empty=not links)


# `ofed_info -s` of each line: MLNX_OFED prints MLNX_OFED_LINUX-<release>:, DOCA-OFED (the
# doca-ofed profile of DOCA-Host, and NVIDIA's driver container) OFED-internal-<release>:
_OFED_STACKS = (("MLNX_OFED_LINUX-", "MLNX_OFED"), ("OFED-internal-", "DOCA-OFED"))


def parse_ofed_info(text: str) -> dict[str, Any]:
    """`ofed_info -s` (or the first line of `ofed_info`) -> the version string as printed,
    the stack (MLNX_OFED or DOCA-OFED) and its release (`24.10-4.1.4.0`, `25.10-2.4.1`)."""
    for ln in lines_of(text):
        s = ln.strip().split(" ")[0].rstrip(":")
        if re.match(r"^(MLNX_OFED_LINUX|OFED|DOCA|mlnx-ofa_kernel)[-\w.]*\d", s):
            stack, release = next(
                (
                    (name, s.removeprefix(prefix))
                    for prefix, name in _OFED_STACKS
                    if s.startswith(prefix)
                ),
                (None, None),
            )
            return result("ofed_info", text, version=s, stack=stack, release=release)
    return result("ofed_info", text, version=None, stack=None, release=None, empty=True)
