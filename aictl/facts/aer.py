"""PCIe Advanced Error Reporting counters, as the kernel keeps them in sysfs (4.19+):
`/sys/bus/pci/devices/<bdf>/aer_dev_{correctable,nonfatal,fatal}`, one `<name> <count>` line
per error type and a `TOTAL_ERR_*` line.

Preflight reads them with `grep -H .` over those files, so every line says which device and
file it came from (`/sys/bus/pci/devices/0000:18:00.0/aer_dev_correctable:RxErr 0`). Names
differ between kernels (`RxErr` vs `Receiver Error`): they are kept as printed. A kernel or a
device without AER exposes no files: the parse then has no devices (and fails, as every
empty output does); the `aer` check skips such a node rather than failing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_simulated, lines_of

_LINE = re.compile(
    r"/([0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])/aer_dev_(correctable|nonfatal|fatal)"
    r":(.+?)\s+(\d+)\s*$"
)
KINDS = ("correctable", "nonfatal", "fatal")


@dataclass(frozen=True, slots=True)
class AerDevice:
    """One device's AER counters since boot: totals per kind, and the non-zero error types."""

    bdf: str
    correctable: int = 0
    nonfatal: int = 0
    fatal: int = 0
    nonzero: dict[str, int] | None = None  # "<kind>/<name>" -> count


@dataclass(frozen=True, kw_only=True)
class AerCounters(Parsed):
    """Every AER-capable device of the node."""

    devices: tuple[AerDevice, ...] = ()
    unparsed: int = 0


def parse_aer(text: str) -> AerCounters:
    """`grep -H . .../aer_dev_*` -> per device: correctable, non-fatal and fatal totals."""
    totals: dict[str, dict[str, int]] = {}
    named: dict[str, dict[str, int]] = {}
    unparsed = 0
    for ln in lines_of(text):
        if not ln.strip():
            continue
        m = _LINE.search(ln)
        if not m:
            unparsed += 1
            continue
        bdf, kind, name, value = m.group(1).lower(), m.group(2), m.group(3).strip(), int(m.group(4))
        dev = totals.setdefault(bdf, dict.fromkeys(KINDS, 0))
        if name.startswith("TOTAL_ERR_"):
            dev[kind] = value
        elif value:
            named.setdefault(bdf, {})[f"{kind}/{name}"] = value
            # a kernel without TOTAL_ lines: the sum of the types
            dev[kind] = max(dev[kind], sum(v for k, v in named[bdf].items() if k.startswith(kind)))
    devices = tuple(
        AerDevice(bdf, t["correctable"], t["nonfatal"], t["fatal"], named.get(bdf) or None)
        for bdf, t in sorted(totals.items())
    )
    errors = [f"{unparsed} lines are not AER counters"] if unparsed and not devices else []
    return AerCounters(
        **head("aer", is_simulated(text), errors, empty=not devices),
        devices=devices,
        unparsed=unparsed,
    )
