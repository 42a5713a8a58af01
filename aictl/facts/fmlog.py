"""The NVIDIA Fabric Manager log (`/var/log/fabricmanager.log`): its errors.

Lines look like `[Feb 27 2025 15:10:02] [ERROR] [tid 12727] detected NVSwitch non-fatal error
12028 on fid 0 on NVSwitch pci bus id 00000000:86:00.0 physical id 3 port 61`; a record may
continue on lines without a timestamp (the multicast team payloads), which belong to the line
before. Only ERROR and FATAL records are kept: the log is mostly INFO. Like the kernel log
(kernel.py), preflight heads it with `# aictl clock <epoch> uptime <s> window <s>`: errors
older than the window are counted, not kept (the log's local time is read as UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_simulated, lines_of

_RECORD = re.compile(
    r"^\[([A-Z][a-z]{2} +\d+ \d{4} \d{2}:\d{2}:\d{2})\] \[([A-Z]+)\] (?:\[tid \d+\] )?(.*)$"
)
_NVSWITCH = re.compile(
    r"NVSwitch (non-fatal|fatal) error (\d+).*?pci bus id ([0-9A-Fa-f:.]+)"
    r"(?: physical id (\d+))?(?: port (\d+))?",
    re.I,
)


_CLOCK = re.compile(r"^# aictl clock (\d+(?:\.\d+)?) uptime \S+ window (\d+)")


def _epoch(stamp: str) -> float | None:
    try:
        return datetime.strptime(stamp, "%b %d %Y %H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class FmError:
    """One ERROR or FATAL record."""

    time: str
    level: str
    message: str
    # an NVSwitch error the manager reports: its code, switch and port, fatal or not
    nvswitch_error: int | None = None
    fatal: bool | None = None
    switch: str | None = None
    port: int | None = None


@dataclass(frozen=True, kw_only=True)
class FabricManagerLog(Parsed):
    """The fabric manager log's records, counted, and its errors."""

    records: int = 0
    levels: dict[str, int] | None = None
    errors_seen: tuple[FmError, ...] = ()  # in the window (the whole log without a clock)
    errors_before: int = 0  # older than the window


def parse_fm_log(text: str) -> FabricManagerLog:
    """fabricmanager.log -> record counts per level and every ERROR/FATAL record."""
    levels: dict[str, int] = {}
    errs: list[FmError] = []
    records = before = 0
    since = None
    for ln in lines_of(text):
        c = _CLOCK.match(ln)
        if c:
            since = float(c.group(1)) - int(c.group(2))
            continue
        m = _RECORD.match(ln.strip())
        if not m:
            continue
        records += 1
        level = m.group(2)
        levels[level] = levels.get(level, 0) + 1
        if level not in ("ERROR", "FATAL"):
            continue
        at = _epoch(" ".join(m.group(1).split()))
        if since is not None and at is not None and at < since:
            before += 1
            continue
        msg = m.group(3).strip()
        sw = _NVSWITCH.search(msg)
        errs.append(
            FmError(
                m.group(1),
                level,
                msg[:240],
                int(sw.group(2)) if sw else None,
                (sw.group(1).lower() == "fatal") if sw else (level == "FATAL" or None),
                sw.group(3).lower() if sw else None,
                int(sw.group(5)) if sw and sw.group(5) else None,
            )
        )
    return FabricManagerLog(
        **head("fabricmanager-log", is_simulated(text), [], empty=records == 0),
        records=records,
        levels=dict(sorted(levels.items())),
        errors_seen=tuple(errs[-50:]),
        errors_before=before,
    )
