"""Parsers for Kunlunxin XPU nodes: `xpu_smi` (its DEVICES table) and `xpu_smi -m`.

`xpu_smi` prints the runtime and driver versions, then DEVICES, VIDEO and PROCESSES tables
drawn with `|`; a K200 card shows as two DevIDs that share a PCI address and serial number
(one card, two dies). `xpu_smi -m` prints one space-separated line per device without a
header: PCI address, card index, DevID, serial number, ... power in mW, six clocks, L3 and
memory used/total, firmware, model, the die within the card, then N/A fields. Positions
after the serial number are read as observed on a K200 (there is no public spec); a line
too short for them is counted, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_prompt, is_simulated, lines_of

_PAIR = re.compile(r"(\d+)\s*/\s*(\d+)")
_PCI = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")


def _int(tok: str) -> int | None:
    t = tok.strip().rstrip("%").strip()
    return int(t) if t.isdigit() else None


@dataclass(frozen=True, slots=True)
class XpuDevice:
    """One XPU device (a die: a K200 card has two)."""

    dev_id: int
    pci_addr: str
    model: str
    serial: str
    state: str = ""
    use_pct: int | None = None
    l3_used_mb: int | None = None
    l3_total_mb: int | None = None
    mem_used_mb: int | None = None
    mem_total_mb: int | None = None
    power_w: float | None = None
    temp_c: int | None = None
    freq_mhz: int | None = None
    firmware: str = ""


@dataclass(frozen=True, kw_only=True)
class XpuSmi(Parsed):
    """`xpu_smi` or `xpu_smi -m`."""

    runtime_version: str | None = None
    driver_version: str | None = None
    brand: str | None = None
    devices: tuple[XpuDevice, ...] = ()
    unparsed: int = 0

    @property
    def cards(self) -> int:
        """Physical cards: devices that share a serial number are one card."""
        return len({d.serial for d in self.devices})


def parse_xpu_smi(text: str) -> XpuSmi:
    """`xpu_smi` -> versions and the DEVICES table."""
    info: dict[str, str] = {}
    devices: list[XpuDevice] = []
    cols: list[str] = []
    section = ""
    for ln in lines_of(text):
        s = ln.strip()
        if not s or is_prompt(ln):
            continue
        if re.fullmatch(r"[A-Z]+", s):
            section, cols = s, []
            continue
        if ":" in s and not s.startswith("|") and not section:
            k, _, v = s.partition(":")
            info[k.strip().lower()] = v.strip()
            continue
        if not s.startswith("|") or section != "DEVICES":
            continue
        cells = [c.strip() for c in s.strip("|").split("|")]
        if not cols and cells and cells[0] == "DevID":
            cols = cells
            continue
        if not cols or len(cells) != len(cols) or not cells[0].isdigit():
            continue
        row = dict(zip(cols, cells, strict=True))
        l3 = _PAIR.search(row.get("L3", ""))
        mem = _PAIR.search(row.get("Memory", ""))
        power = row.get("Power(W)", "")
        devices.append(
            XpuDevice(
                dev_id=int(cells[0]),
                pci_addr=row.get("PCI Addr", "").lower(),
                model=row.get("Model", ""),
                serial=row.get("SN", ""),
                state=row.get("State", ""),
                use_pct=_int(row.get("UseRate", "")),
                l3_used_mb=int(l3.group(1)) if l3 else None,
                l3_total_mb=int(l3.group(2)) if l3 else None,
                mem_used_mb=int(mem.group(1)) if mem else None,
                mem_total_mb=int(mem.group(2)) if mem else None,
                power_w=float(power) if power.replace(".", "", 1).isdigit() else None,
                temp_c=_int(row.get("Temp", "")),
                freq_mhz=_int(row.get("Freq(MHz)", "")),
                firmware=row.get("Firmware Version", ""),
            )
        )
    return XpuSmi(
        **head("xpu_smi", is_simulated(text), [], empty=not devices),
        runtime_version=info.get("runtime version"),
        driver_version=info.get("driver version"),
        brand=info.get("product brand"),
        devices=tuple(devices),
    )


def parse_xpu_smi_m(text: str) -> XpuSmi:
    """`xpu_smi -m` -> one device per line (positional fields, see the module docstring)."""
    devices: list[XpuDevice] = []
    unparsed = 0
    for ln in lines_of(text):
        tok = ln.split()
        if not tok:
            continue
        if len(tok) < 23 or not _PCI.match(tok[0]) or not tok[2].isdigit():
            unparsed += 1
            continue
        mw = _int(tok[8])
        devices.append(
            XpuDevice(
                dev_id=int(tok[2]),
                pci_addr=tok[0].lower(),
                model=tok[21],
                serial=tok[3],
                temp_c=_int(tok[4]),
                power_w=mw / 1000 if mw is not None else None,
                freq_mhz=_int(tok[9]),
                l3_used_mb=_int(tok[15]),
                l3_total_mb=_int(tok[16]),
                mem_used_mb=_int(tok[17]),
                mem_total_mb=_int(tok[18]),
                firmware=tok[20],
            )
        )
    return XpuSmi(
        **head("xpu_smi-m", is_simulated(text), [], empty=not devices),
        devices=tuple(devices),
        unparsed=unparsed,
    )
