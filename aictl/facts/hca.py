"""Parsers for the HCA tools: ibstat, ibv_devinfo, show_gids, ibdev2netdev, ofed_info.

All port facts come out in one shape, `IbPort` {device, port, state, physical_state,
rate_gbps, link_layer, lid, port_guid}, whichever tool printed them, so rules do not care which
one ran.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_prompt, is_simulated, kv, lines_of

_STATE = {"PORT_ACTIVE": "Active", "PORT_DOWN": "Down", "PORT_INIT": "Initializing"}
_STATE.update({"PORT_ARMED": "Armed", "PORT_ACTIVE_DEFER": "ActiveDefer"})


@dataclass(frozen=True, slots=True)
class IbPort:
    """One HCA port."""

    device: str
    port: int
    state: str | None = None
    physical_state: str | None = None
    rate_gbps: float | int | None = None
    link_layer: str | None = None
    lid: int | None = None
    port_guid: str | None = None
    active_mtu: int | None = None


@dataclass(frozen=True, kw_only=True)
class HcaPorts(Parsed):
    """ibstat or ibv_devinfo: the devices (their own `key: value` facts) and their ports."""

    devices: tuple[dict[str, str], ...] = ()
    ports: tuple[IbPort, ...] = ()
    unparsed: tuple[str, ...] = ()

    def port1(self) -> dict[str, IbPort]:
        """Port 1 of every device, by device (the rail port of a single-port HCA)."""
        return {p.device: p for p in self.ports if p.port == 1}


def _num(value: str) -> float | int | None:
    m = re.match(r"^([\d.]+)", value)
    if not m:
        return None
    try:
        f = float(m.group(1))
    except ValueError:
        return None
    if not math.isfinite(f):  # a number too long to be one
        return None
    return int(f) if f.is_integer() else f


def parse_ibstat(text: str) -> HcaPorts:
    """`ibstat [dev]` -> ports; `ibpanic` lines (partial output) become errors."""
    ports: list[IbPort] = []
    cas: list[dict[str, str]] = []
    errors: list[str] = []
    unparsed: list[str] = []
    ca: dict[str, str] | None = None
    port: IbPort | None = None
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
            port = IbPort(ca["device"], int(m.group(1)))
            ports.append(port)
            continue
        pair = kv(s)
        if pair is None or ca is None:
            unparsed.append(s)
            continue
        key, value = pair
        if port is None:
            ca[key.lower().replace(" ", "_")] = value
            continue
        if key == "State":
            new = replace(port, state=value)
        elif key == "Physical state":
            new = replace(port, physical_state=value)
        elif key == "Rate":
            new = replace(port, rate_gbps=_num(value))
        elif key == "Link layer":
            new = replace(port, link_layer=value)
        elif key == "Base lid":
            new = replace(port, lid=int(value) if value.isdigit() else None)
        elif key == "Port GUID":
            new = replace(port, port_guid=value.lower().removeprefix("0x"))
        else:
            continue
        ports[-1] = port = new
    return HcaPorts(
        **head("ibstat", is_simulated(text), errors, empty=not cas),
        devices=tuple(cas),
        ports=tuple(ports),
        unparsed=tuple(unparsed[:20]),
    )


def parse_ibv_devinfo(text: str) -> HcaPorts:
    """`ibv_devinfo [-v] [-d dev]` (old `Device ports:` layout or new) -> ports."""
    ports: list[IbPort] = []
    devices: list[dict[str, str]] = []
    errors: list[str] = []
    dev: dict[str, str] | None = None
    width: float | int | None = None
    speed: float | int | None = None
    port_open = False
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
            port_open = False
            continue
        if key == "port" and dev is not None:
            ports.append(IbPort(dev["device"], int(value) if value.isdigit() else 0))
            port_open = True
            width = speed = None
            continue
        if dev is None:
            continue
        if not ports or not port_open or ports[-1].device != dev["device"]:
            dev[key] = value
            continue
        p = ports[-1]
        word = value.split()[0] if value.split() else value
        if key == "state":
            p = replace(p, state=_STATE.get(word, word))
        elif key == "phys_state":
            p = replace(p, physical_state=re.sub(r"\s*\(\d+\)$", "", value).title())
        elif key == "link_layer":
            p = replace(p, link_layer=value)
        elif key == "port_lid":
            p = replace(p, lid=int(value) if value.isdigit() else None)
        elif key == "active_mtu":
            p = replace(p, active_mtu=int(word) if word.isdigit() else None)
        elif key == "active_width":
            width = _num(value)
        elif key == "active_speed":
            speed = _num(value)
        if width and speed:
            p = replace(p, rate_gbps=_num(str(round(float(width) * float(speed), 1))))
        ports[-1] = p
    return HcaPorts(
        **head("ibv_devinfo", is_simulated(text), errors, empty=not devices),
        devices=tuple(devices),
        ports=tuple(ports),
    )


@dataclass(frozen=True, slots=True)
class Gid:
    """One row of show_gids."""

    device: str
    port: int
    index: int
    gid: str
    ipv4: str
    version: str
    netdev: str


@dataclass(frozen=True, kw_only=True)
class GidTable(Parsed):
    """`show_gids`."""

    gids: tuple[Gid, ...] = ()
    unparsed: tuple[str, ...] = ()


def parse_show_gids(text: str) -> GidTable:
    """`show_gids [dev]` -> GID rows with RoCE version, IPv4 and netdev."""
    gids: list[Gid] = []
    found = None
    unparsed: list[str] = []
    for ln in lines_of(text):
        t = ln.split()
        if not t or is_prompt(ln) or t[0] in ("DEV", "---"):
            continue
        if t[0].startswith("n_gids_found="):
            count = t[0].split("=", 1)[1]
            found = int(count) if count.isdigit() else None
            continue
        if len(t) in (6, 7) and t[1].isdigit() and t[2].isdigit():
            ipv4 = t[4] if len(t) == 7 else ""
            gids.append(Gid(t[0], int(t[1]), int(t[2]), t[3], ipv4, t[-2], t[-1]))
        else:
            unparsed.append(ln)
    errors = [] if found in (None, len(gids)) else [f"n_gids_found={found}, {len(gids)} rows"]
    return GidTable(
        **head("show_gids", is_simulated(text), errors, empty=not gids),
        gids=tuple(gids),
        unparsed=tuple(unparsed),
    )


@dataclass(frozen=True, slots=True)
class NetdevLink:
    """One line of ibdev2netdev."""

    device: str
    port: int
    netdev: str
    up: bool


@dataclass(frozen=True, kw_only=True)
class NetdevMap(Parsed):
    """`ibdev2netdev`."""

    links: tuple[NetdevLink, ...] = ()


def parse_ibdev2netdev(text: str) -> NetdevMap:
    """`ibdev2netdev` -> {device, port, netdev, up}."""
    links = []
    for ln in lines_of(text):
        m = re.match(r"^(\S+) port (\d+) ==> (\S+) \((\w+)\)", ln.strip())
        if m:
            links.append(NetdevLink(m.group(1), int(m.group(2)), m.group(3), m.group(4) == "Up"))
    return NetdevMap(
        **head("ibdev2netdev", is_simulated(text), [], empty=not links), links=tuple(links)
    )


@dataclass(frozen=True, kw_only=True)
class OfedVersion(Parsed):
    """`ofed_info -s`: the version as printed, the stack and its release."""

    version: str | None = None
    stack: str | None = None  # MLNX_OFED | DOCA-OFED
    release: str | None = None


# `ofed_info -s` of each line: MLNX_OFED prints MLNX_OFED_LINUX-<release>:, DOCA-OFED (the
# doca-ofed profile of DOCA-Host, and NVIDIA's driver container) OFED-internal-<release>:
_OFED_STACKS = (("MLNX_OFED_LINUX-", "MLNX_OFED"), ("OFED-internal-", "DOCA-OFED"))


def parse_ofed_info(text: str) -> OfedVersion:
    """`ofed_info -s` (or the first line of `ofed_info`) -> the version string as printed,
    the stack (MLNX_OFED or DOCA-OFED) and its release (`24.10-4.1.4.0`, `25.10-2.4.1`)."""
    sim = is_simulated(text)
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
            return OfedVersion(
                **head("ofed_info", sim, []), version=s, stack=stack, release=release
            )
    return OfedVersion(**head("ofed_info", sim, [], empty=True))
