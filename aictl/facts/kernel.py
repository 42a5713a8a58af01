"""The kernel log's GPU events: NVIDIA Xid and NVSwitch SXid lines, and the driver's "fallen off
the bus" and adapter-init failures, classified by the Xid catalogue (xid.py).

Reads what `dmesg --time-format iso`, `dmesg -T`, plain `dmesg` (seconds since boot),
`dmesg --decode` (`kern  :warn  : ` prefix), `journalctl -k -o short-iso` and syslog files
print. Preflight's command heads the log with one line of its own, `# aictl clock <epoch>
uptime <seconds> window <seconds>`: the node's clock, so only events of the last `window`
seconds count. A saved log without that line is read whole, anchored at its newest line.
Events are grouped per device and code; a burst of 600 identical Xid 13 lines is one group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_simulated, lines_of
from aictl.facts.xid import XidAction, classify, classify_sxid

_CLOCK = re.compile(r"^# aictl clock (\d+(?:\.\d+)?) uptime (\d+(?:\.\d+)?) window (\d+)")
_XID = re.compile(r"NVRM: Xid \((?:PCI:)?([0-9A-Fa-f:.]+)\): (\d+),\s*(.*)$")
_SXID = re.compile(r"nvidia-nvswitch\d*: SXid \((?:PCI:)?([0-9A-Fa-f:.]+)\): (\d+),\s*(.*)$")
_BUS = re.compile(r"NVRM: GPU (?:at )?(?:PCI:)?([0-9A-Fa-f:.]+):? .*has fallen off the bus")
_INIT = re.compile(r"NVRM: (?:GPU ([0-9A-Fa-f:.]+): )?RmInitAdapter failed")
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[,.](\d+))?(Z|[+-]\d{2}:?\d{2})?")
_CTIME = re.compile(r"^\[(?:\w{3}) (\w{3}) +(\d+) (\d{2}:\d{2}:\d{2}) (\d{4})\]")
_MONO = re.compile(r"^\[\s*(\d+\.\d+)\]")
_SYSLOG = re.compile(r"^(\w{3} +\d+ \d{2}:\d{2}:\d{2}) ")
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True, slots=True)
class GpuEvents:
    """The events of one kind and code on one device."""

    kind: str  # xid | sxid
    device: str  # PCI address as the driver printed it
    code: int
    name: str
    action: XidAction
    count: int  # in the window
    count_total: int  # in the whole log
    first: str  # timestamps as printed ("" when the line had none)
    last: str
    message: str  # the first line's text after the code


@dataclass(frozen=True, kw_only=True)
class KernelLog(Parsed):
    """The kernel log's GPU and NVSwitch events."""

    lines: int = 0
    window_s: int | None = None  # None: the whole log was read
    events: tuple[GpuEvents, ...] = ()


def _stamp(line: str) -> tuple[str, float | None, float | None]:
    """(the timestamp as printed, epoch seconds, seconds since boot)."""
    m = _MONO.match(line)
    if m:
        return m.group(0), None, float(m.group(1))
    m = _CTIME.match(line)
    if m and m.group(1) in _MONTHS:  # dmesg -T prints local time: taken as UTC
        month = _MONTHS.index(m.group(1)) + 1
        try:
            t = datetime(int(m.group(4)), month, int(m.group(2)), tzinfo=UTC)
            h, mi, s = (int(x) for x in m.group(3).split(":"))
            return m.group(0), t.timestamp() + h * 3600 + mi * 60 + s, None
        except ValueError:
            return m.group(0), None, None
    m = _ISO.search(line[:64])
    if m:
        tz = m.group(4) or "Z"
        tz = "+00:00" if tz == "Z" else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
        frac = (m.group(3) or "0")[:6]
        try:
            t = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}.{frac:0<6}{tz}")
            return m.group(0), t.timestamp(), None
        except ValueError:
            return m.group(0), None, None
    m = _SYSLOG.match(line)  # no year: shown, not placed in time
    return (m.group(1), None, None) if m else ("", None, None)


@dataclass(slots=True)
class _Hit:
    kind: str
    device: str
    code: int
    text: str
    stamp: str
    epoch: float | None
    mono: float | None


def _hit(line: str) -> _Hit | None:
    stamp, epoch, mono = _stamp(line)
    m = _XID.search(line)
    if m:
        return _Hit("xid", m.group(1), int(m.group(2)), m.group(3), stamp, epoch, mono)
    m = _SXID.search(line)
    if m and not m.group(3).startswith("Data {"):  # a Data line continues the one before
        return _Hit("sxid", m.group(1), int(m.group(2)), m.group(3), stamp, epoch, mono)
    m = _BUS.search(line)
    if m and "Xid" not in line:
        return _Hit("xid", m.group(1), 79, "GPU has fallen off the bus", stamp, epoch, mono)
    m = _INIT.search(line)
    if m:
        return _Hit("xid", m.group(1) or "?", 143, "RmInitAdapter failed", stamp, epoch, mono)
    return None


def _device(addr: str) -> str:
    """One spelling per device: `0000:2b:00.0`, `00000000:2B:00` -> `0000:2b:00`."""
    addr = addr.lower().rstrip(":")
    parts = addr.split(".")[0].split(":")
    if len(parts) == 3:
        parts[0] = parts[0][-4:]
    return ":".join(parts)


def _sxid_fatal(text: str) -> bool | None:
    low = text.lower()
    if low.startswith("non-fatal") or "non-fatal" in low.split(",")[0]:
        return False
    if low.startswith("fatal"):
        return True
    return None


def parse_kernel_log(text: str) -> KernelLog:
    """dmesg / journal text -> GPU and NVSwitch events per device and code."""
    clock = uptime = None
    window: int | None = None
    hits: list[_Hit] = []
    lines = lines_of(text)
    for ln in lines:
        m = _CLOCK.match(ln)
        if m:
            clock, uptime, window = float(m.group(1)), float(m.group(2)), int(m.group(3))
            continue
        h = _hit(ln)
        if h is not None:
            hits.append(h)
    # the window's start, in each clock the log may carry
    newest = max((h.epoch for h in hits if h.epoch is not None), default=None)
    anchor = clock if clock is not None else newest
    since = anchor - window if anchor is not None and window is not None else None
    boot_since = uptime - window if uptime is not None and window is not None else None

    def inside(h: _Hit) -> bool:
        if h.epoch is not None and since is not None:
            return h.epoch >= since
        if h.mono is not None and boot_since is not None:
            return h.mono >= boot_since
        return True  # no way to place it in time: it counts

    groups: dict[tuple[str, str, int], list[_Hit]] = {}
    for h in hits:
        groups.setdefault((h.kind, _device(h.device), h.code), []).append(h)
    events = []
    for (kind, device, code), hs in groups.items():
        if kind == "sxid":
            fatal = _sxid_fatal(hs[0].text)
            action = classify_sxid(fatal)
            name = (
                "NVSwitch error (severity not stated)"
                if fatal is None
                else ("fatal NVSwitch error" if fatal else "non-fatal NVSwitch error")
            )
        else:
            texts = [h.text for h in hs]
            infos = [classify(code, t) for t in texts]
            info = max(infos, key=lambda i: list(XidAction).index(i.action))
            action, name = info.action, info.name
        events.append(
            GpuEvents(
                kind=kind,
                device=device,
                code=code,
                name=name,
                action=action,
                count=sum(1 for h in hs if inside(h)),
                count_total=len(hs),
                first=hs[0].stamp,
                last=hs[-1].stamp,
                message=hs[0].text[:200],
            )
        )
    events.sort(key=lambda e: (e.kind, e.device, e.code))
    nonblank = [ln for ln in lines if ln.strip() and not _CLOCK.match(ln)]
    return KernelLog(
        **head("kernel-log", is_simulated(text), [], empty=not nonblank and clock is None),
        lines=len(nonblank),
        window_s=window,
        events=tuple(events),
    )
