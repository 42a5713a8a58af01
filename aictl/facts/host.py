"""Parsers for host facts: lspci -vvv (PCIe links, ACS), lsmod, the bonding driver's status
file, `ip -j link`, `systemctl is-active`."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_prompt, is_simulated, kv, lines_of

_DEV = re.compile(r"^([0-9a-fA-F]{4}:)?([0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]) (.+)$")
_LINK = re.compile(r"Speed ([\d.]+)GT/s[^,]*, Width x(\d+)")


@dataclass(frozen=True, slots=True)
class PcieLink:
    """A PCIe link: speed per lane and width."""

    gts: float
    width: int


@dataclass(frozen=True, slots=True)
class PciDevice:
    """One device of `lspci -vvv`."""

    bdf: str
    cls: str = field(metadata={"json": "class"})
    description: str
    link_cap: PcieLink | None = None
    link_sta: PcieLink | None = None
    acs_ctl: dict[str, bool] | None = None
    # `NUMA node: N` (lspci -vv); None when the kernel reports none
    numa: int | None = None

    @property
    def is_rdma_nic(self) -> bool:
        """An InfiniBand or Mellanox Ethernet controller (a rail NIC, not the GPU)."""
        return "Infiniband" in self.cls or (
            "Ethernet controller" in self.cls and "Mellanox" in self.description
        )


@dataclass(frozen=True, kw_only=True)
class PciDevices(Parsed):
    """`lspci -vvv`."""

    devices: tuple[PciDevice, ...] = ()


def parse_lspci(text: str) -> PciDevices:
    """`lspci -vvv` -> devices with class, PCIe link (capable vs status) and ACS control."""
    devices: list[PciDevice] = []
    for ln in lines_of(text):
        m = _DEV.match(ln)
        if m:
            cls, _, desc = m.group(3).partition(": ")
            devices.append(PciDevice((m.group(1) or "0000:") + m.group(2), cls, desc))
            continue
        if not devices:
            continue
        d = devices[-1]
        s = ln.strip()
        if s.startswith(("LnkCap:", "LnkSta:")):
            lm = _LINK.search(s)
            if lm and math.isfinite(float(lm.group(1))):
                link = PcieLink(float(lm.group(1)), int(lm.group(2)))
                d = (
                    replace(d, link_cap=link)
                    if s.startswith("LnkCap")
                    else replace(d, link_sta=link)
                )
        elif s.startswith("NUMA node:") and s.split(":", 1)[1].strip().isdigit():
            d = replace(d, numa=int(s.split(":", 1)[1]))
        elif s.startswith("ACSCtl:"):
            flags = dict(re.findall(r"(\w+)([+-])", s.split(":", 1)[1]))
            d = replace(d, acs_ctl={k: v == "+" for k, v in flags.items()})
        devices[-1] = d
    return PciDevices(
        **head("lspci", is_simulated(text), [], empty=not devices), devices=tuple(devices)
    )


@dataclass(frozen=True, kw_only=True)
class Modules(Parsed):
    """`lsmod`."""

    modules: tuple[str, ...] = ()


def parse_lsmod(text: str) -> Modules:
    """`lsmod` -> module names."""
    mods = []
    for ln in lines_of(text):
        t = ln.split()
        if len(t) >= 3 and t[0] != "Module" and t[1].isdigit():
            mods.append(t[0])
    return Modules(
        **head("lsmod", is_simulated(text), [], empty=not mods), modules=tuple(sorted(mods))
    )


@dataclass(frozen=True, slots=True)
class BondMember:
    """A member of a bond."""

    name: str
    mii_status: str | None = None
    speed_mbps: int | None = None
    aggregator: int | None = None


@dataclass(frozen=True, kw_only=True)
class BondStatus(Parsed):
    """/proc/net/bonding/<bond>."""

    mode: str | None = None
    hash_policy: str | None = None
    mii_status: str | None = None
    lacp_rate: str | None = None
    active_aggregator: int | None = None
    members: tuple[BondMember, ...] = ()


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def parse_bonding(text: str) -> BondStatus:
    """/proc/net/bonding/<bond> -> mode, hash policy, active aggregator, members."""
    info: dict[str, str | int | None] = {}
    section = "bond"
    members: list[BondMember] = []
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
            members.append(BondMember(value))
            section = "member"
        elif section == "member" and members:
            m = members[-1]
            if key == "MII Status":
                members[-1] = replace(m, mii_status=value)
            elif key == "Speed":
                members[-1] = replace(m, speed_mbps=_int(value.split()[0]) if value else None)
            elif key == "Aggregator ID":
                members[-1] = replace(m, aggregator=_int(value))
        elif section == "active" and key == "Aggregator ID":
            info["active_aggregator"] = _int(value)
        elif key == "Bonding Mode":
            info["mode"] = value
        elif key == "Transmit Hash Policy":
            info["hash_policy"] = value.split()[0] if value else None
        elif key == "MII Status":
            info["mii_status"] = value
        elif key == "LACP rate":
            info["lacp_rate"] = value

    def text_of(k: str) -> str | None:
        v = info.get(k)
        return v if isinstance(v, str) else None

    agg = info.get("active_aggregator")
    return BondStatus(
        **head("bonding", is_simulated(text), errors, empty=info.get("mode") is None),
        mode=text_of("mode"),
        hash_policy=text_of("hash_policy"),
        mii_status=text_of("mii_status"),
        lacp_rate=text_of("lacp_rate"),
        active_aggregator=agg if isinstance(agg, int) else None,
        members=tuple(members),
    )


@dataclass(frozen=True, slots=True)
class LinkState:
    """One interface of `ip -j link`."""

    mtu: int | None
    state: str | None
    master: str | None


@dataclass(frozen=True, kw_only=True)
class Links(Parsed):
    """`ip -j link show`: interfaces by name."""

    links: dict[str, LinkState] = field(default_factory=dict)


def parse_ip_link(text: str) -> Links:
    """`ip -j link show` -> {ifname: {mtu, state}}."""
    sim = is_simulated(text)
    body = "\n".join(ln for ln in lines_of(text) if not is_prompt(ln))
    try:
        data = json.loads(body[body.index("[") :]) if "[" in body else []
    except (json.JSONDecodeError, RecursionError) as exc:
        return Links(**head("ip-link", sim, [f"not JSON: {getattr(exc, 'msg', exc)}"]))
    if not isinstance(data, list):
        data = []
    links = {
        str(d["ifname"]): LinkState(
            d.get("mtu") if isinstance(d.get("mtu"), int) else None,
            d.get("operstate") if isinstance(d.get("operstate"), str) else None,
            d.get("master") if isinstance(d.get("master"), str) else None,
        )
        for d in data
        if isinstance(d, dict) and "ifname" in d
    }
    return Links(**head("ip-link", sim, [], empty=not links), links=links)


@dataclass(frozen=True, kw_only=True)
class UnitState(Parsed):
    """`systemctl is-active UNIT`."""

    state: str | None = None


def parse_is_active(text: str) -> UnitState:
    """`systemctl is-active UNIT` -> the state word."""
    words = [ln.strip() for ln in lines_of(text) if ln.strip()]
    state = words[-1] if words else None
    return UnitState(**head("systemctl", is_simulated(text), [], empty=state is None), state=state)
