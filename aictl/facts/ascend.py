"""Parsers for Huawei Ascend nodes: `npu-smi info`, `npu-smi info -m`, `hccn_tool` outputs per
NPU port, and the driver/firmware/CANN version files.

`npu-smi info` draws one cell per chip, two lines each: NPU ID, name, health, power,
temperature on the first; chip index (and, from 24.x, its physical ID; in 21.x the device
number), bus ID, AI Core use and memory on the second. Layouts differ by release: the column
widths, a `Chip Phy-ID` or `Chip Device` header, an HBM column or none, and A3-class boards
that carry two chips per NPU ID (the second chip's power reads `-`). Cells are split on `|`,
never on positions.

`hccn_tool -i <device> -<op> -g` prints one answer per call (`link status: UP`, `net health
status: Success`, `ipaddr:`/`netmask:`, `netdetect address:`, `default gateway:..., Iface:`,
packet statistics, link flap records; `-ping -g address <peer>` ends with ping's own `N
packets transmitted, M received` line). Huawei's collector scripts, and aictl's preflight,
print each command before its output; the device comes from that line (`-link_stat` also
prefixes every line with `[devid N]`).

The version files (`/usr/local/Ascend/driver/version.info`, `.../firmware/version.info`,
the CANN toolkit's `ascend_toolkit_install.info`) are `key=value` lines, read after the
`cat <path>` that printed them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_prompt, is_simulated, lines_of

_VERSION = re.compile(r"npu-smi\s+(\S+)\s+Version:\s*(\S+)")
_BUS = re.compile(r"^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]$")
_PAIR = re.compile(r"(\d+)\s*/\s*(\d+)")


def _num(tok: str) -> float | None:
    try:
        return float(tok)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class NpuChip:
    """One chip of `npu-smi info` (an NPU ID holds one chip, two on A3 boards, four 310s on
    an Atlas 300)."""

    npu: int
    chip: int
    name: str
    health: str
    bus_id: str
    phy_id: int | None = None
    power_w: float | None = None
    temp_c: float | None = None
    aicore_pct: float | None = None
    memory_used_mb: int | None = None
    memory_total_mb: int | None = None
    hbm_used_mb: int | None = None
    hbm_total_mb: int | None = None


@dataclass(frozen=True, kw_only=True)
class NpuSmiInfo(Parsed):
    """`npu-smi info`."""

    version: str | None = None
    chips: tuple[NpuChip, ...] = ()
    processes: int = 0

    @property
    def npus(self) -> tuple[int, ...]:
        """The NPU IDs, in order (an ID with two chips once)."""
        return tuple(dict.fromkeys(c.npu for c in self.chips))

    def unhealthy(self) -> list[NpuChip]:
        """Chips whose Health is not OK (Warning, Alarm, Critical, ...)."""
        return [c for c in self.chips if c.health.upper() != "OK"]


def _cells(line: str) -> list[str] | None:
    s = line.strip()
    if not (s.startswith("|") and s.endswith("|")):
        return None
    return [c.strip() for c in s.strip("|").split("|")]


def parse_npu_smi(text: str) -> NpuSmiInfo:
    """`npu-smi info` -> the version and every chip, whatever the release's layout."""
    version = None
    chips: list[NpuChip] = []
    first: list[str] | None = None
    processes = 0
    in_procs = False
    errors: list[str] = []
    for ln in lines_of(text):
        if is_prompt(ln):
            continue
        if (m := _VERSION.search(ln)) is not None:
            version = m.group(2)
            continue
        cells = _cells(ln)
        if cells is None:
            s = ln.strip()
            if s and not s.startswith("+") and re.search(r"error|fail|not found|denied", s, re.I):
                errors.append(s[:200])
            continue
        if cells and cells[0].startswith("NPU") and "Process" in " ".join(cells):
            in_procs = True
            continue
        if in_procs:
            if cells and cells[0] and not cells[0].startswith("No running") and len(cells) >= 3:
                processes += 1
            continue
        if len(cells) < 3 or cells[0].startswith(("NPU", "Chip")):
            first = None
            continue
        left = cells[0].split()
        if first is None:
            # first line of a cell: NPU ID and name | health | power temp ...
            if len(left) >= 2 and left[0].isdigit():
                first = cells
            continue
        # second line: chip [phy-id/device] | bus id | aicore memory [hbm]
        top, first = first, None
        name_tok = top[0].split()
        bus = cells[1].split()[0] if cells[1].split() else ""
        if not left or not left[0].isdigit() or not _BUS.match(bus):
            continue
        metrics = top[2].split()
        pairs = _PAIR.findall(cells[2])
        aicore = _num(cells[2].split()[0]) if cells[2].split() else None
        chips.append(
            NpuChip(
                npu=int(name_tok[0]),
                chip=int(left[0]),
                name=" ".join(name_tok[1:]),
                health=top[1].split()[0] if top[1].split() else "",
                bus_id=bus.upper(),
                phy_id=int(left[1]) if len(left) > 1 and left[1].isdigit() else None,
                power_w=_num(metrics[0]) if metrics else None,
                temp_c=_num(metrics[1]) if len(metrics) > 1 else None,
                aicore_pct=aicore,
                memory_used_mb=int(pairs[0][0]) if pairs else None,
                memory_total_mb=int(pairs[0][1]) if pairs else None,
                hbm_used_mb=int(pairs[1][0]) if len(pairs) > 1 else None,
                hbm_total_mb=int(pairs[1][1]) if len(pairs) > 1 else None,
            )
        )
    return NpuSmiInfo(
        **head("npu-smi", is_simulated(text), errors[:1], empty=not chips),
        version=version,
        chips=tuple(chips),
        processes=processes,
    )


@dataclass(frozen=True, slots=True)
class NpuMap:
    """One row of `npu-smi info -m`."""

    npu: int
    chip: int
    logic_id: int | None
    name: str


@dataclass(frozen=True, kw_only=True)
class NpuMapping(Parsed):
    """`npu-smi info -m`: NPU ID, chip ID, chip logic ID and chip name."""

    rows: tuple[NpuMap, ...] = ()


def parse_npu_smi_mapping(text: str) -> NpuMapping:
    """`npu-smi info -m` -> the chip map (MCU rows, logic ID `-`, are kept with None)."""
    rows = []
    for ln in lines_of(text):
        tok = ln.split()
        if len(tok) < 4 or not tok[0].isdigit() or not tok[1].isdigit():
            continue
        logic = int(tok[2]) if tok[2].isdigit() else None
        rows.append(NpuMap(int(tok[0]), int(tok[1]), logic, " ".join(tok[3:])))
    return NpuMapping(**head("npu-smi-m", is_simulated(text), [], empty=not rows), rows=tuple(rows))


_CMD = re.compile(r"hccn_tool\s+-i\s+(\d+)\s+-(\w+)\s+-g\b")
_DEVID = re.compile(r"^\[devid (\d+)\]\s*")
_PING = re.compile(r"(\d+) packets transmitted, (\d+) received")


@dataclass(frozen=True, slots=True)
class NpuPort:
    """What `hccn_tool` says of one NPU's integrated RoCE port."""

    device: int
    ipaddr: str | None = None
    netmask: str | None = None
    link: str | None = None  # UP or DOWN
    health: str | None = None  # Success, Init, Socket fail, Receive timeout, ...
    netdetect: str | None = None
    gateway: str | None = None
    rx_err: int | None = None
    tx_err: int | None = None
    link_up_count: int | None = None
    link_changes: int | None = None
    speed_mbps: int | None = None
    # `-ping -g address <peer>`: the NPU's own echo over its rail (sent, answered)
    ping_sent: int | None = None
    ping_received: int | None = None


@dataclass(frozen=True, kw_only=True)
class HccnPorts(Parsed):
    """`hccn_tool -i <n> -<op> -g` for one or more NPUs, each headed by its command line."""

    ports: dict[int, NpuPort] = field(default_factory=dict)
    unparsed: tuple[str, ...] = ()


def _set(port: NpuPort, op: str, line: str) -> NpuPort:
    """One output line of `op` folded into the port."""
    s = _DEVID.sub("", line.strip())
    key, sep, value = s.partition(":")
    k, v = key.strip().lower(), value.strip()
    if not sep:
        return port
    if op == "ip" and k == "ipaddr":
        return replace(port, ipaddr=v or None)
    if op == "ip" and k == "netmask":
        return replace(port, netmask=v or None)
    if op == "link" and k == "link status":
        return replace(port, link=v.upper() or None)
    if op == "net_health" and k == "net health status":
        return replace(port, health=v or None)
    if op == "netdetect" and k == "netdetect address":
        return replace(port, netdetect=v or None)
    if op == "gateway" and k == "default gateway":
        return replace(port, gateway=v.split(",")[0].strip() or None)
    if op == "stat" and k == "roce_rx_err_pkt_num" and v.isdigit():
        return replace(port, rx_err=int(v))
    if op == "stat" and k == "roce_tx_err_pkt_num" and v.isdigit():
        return replace(port, tx_err=int(v))
    if op == "link_stat" and k == "link up count" and v.isdigit():
        return replace(port, link_up_count=int(v))
    if op == "speed" and k == "speed":
        digits = re.match(r"(\d+)", v)
        return replace(port, speed_mbps=int(digits.group(1))) if digits else port
    return port


def parse_hccn(text: str) -> HccnPorts:
    """`hccn_tool` outputs, each after the command line that printed it -> ports by device."""
    ports: dict[int, NpuPort] = {}
    dev: int | None = None
    op = ""
    unparsed: list[str] = []
    changes: dict[int, int] = {}
    errors: list[str] = []
    for ln in lines_of(text):
        if (m := _CMD.search(ln)) is not None:
            dev, op = int(m.group(1)), m.group(2)
            ports.setdefault(dev, NpuPort(dev))
            continue
        s = ln.strip()
        if dev is not None and op == "ping" and (p := _PING.search(s)) is not None:
            ports[dev] = replace(
                ports[dev], ping_sent=int(p.group(1)), ping_received=int(p.group(2))
            )
            continue
        if not s or dev is None:
            if s and not is_prompt(ln) and dev is None and ":" not in s:
                unparsed.append(ln)
            continue
        if op == "link_stat" and re.search(r"\bLINK (UP|DOWN)\s*$", s):
            changes[dev] = changes.get(dev, 0) + 1
            continue
        if re.search(r"\b(error|failed|invalid|not support)", s, re.I) and ":" not in s:
            errors.append(f"device {dev}: {s[:200]}")
            continue
        ports[dev] = _set(ports[dev], op, s)
    for d, n in changes.items():
        ports[d] = replace(ports[d], link_changes=n)
    return HccnPorts(
        **head("hccn_tool", is_simulated(text), errors[:1], empty=not ports),
        ports=dict(sorted(ports.items())),
        unparsed=tuple(unparsed[:20]),
    )


_CAT = re.compile(r"^\s*cat\s+(\S+)")
# which file holds which part of the stack, by the end of its path
_FILES = (
    ("driver/version.info", "driver", "version"),
    ("firmware/version.info", "firmware", "version"),
    ("ascend_toolkit_install.info", "cann", "version"),
    ("ascend_nnae_install.info", "nnae", "version"),
)


@dataclass(frozen=True, kw_only=True)
class AscendVersions(Parsed):
    """The Ascend stack's version files: driver, firmware, CANN (toolkit), NNAE."""

    driver: str | None = None
    firmware: str | None = None
    cann: str | None = None
    nnae: str | None = None
    files: dict[str, dict[str, str]] = field(default_factory=dict)


def parse_ascend_versions(text: str) -> AscendVersions:
    """`cat <version file>` sections -> the version of each part of the stack."""
    files: dict[str, dict[str, str]] = {}
    current: str | None = None
    errors = []
    for ln in lines_of(text):
        if (m := _CAT.match(ln)) is not None:
            current = m.group(1)
            files.setdefault(current, {})
            continue
        s = ln.strip()
        if current is None or not s:
            continue
        if "No such file" in s:
            errors.append(s[:200])
            continue
        k, sep, v = s.partition("=")
        if sep and re.fullmatch(r"[A-Za-z_][\w]*", k.strip()):
            files[current].setdefault(k.strip().lower(), v.strip())
    found: dict[str, str | None] = {"driver": None, "firmware": None, "cann": None, "nnae": None}
    for path, kv in files.items():
        for tail, part, key in _FILES:
            if path.endswith(tail) and kv.get(key):
                found[part] = kv[key]
    return AscendVersions(
        **head(
            "ascend-versions",
            is_simulated(text),
            errors[:1] if not any(found.values()) else [],
            empty=not any(found.values()),
        ),
        files={k: dict(sorted(v.items())) for k, v in files.items()},
        driver=found["driver"],
        firmware=found["firmware"],
        cann=found["cann"],
        nnae=found["nnae"],
    )


_NPU_COL = re.compile(r"^NPU\d+$")


@dataclass(frozen=True, kw_only=True)
class NpuTopo(Parsed):
    """`npu-smi info -t topo`: NPU x NPU links (HCCS, PIX, PXB, PHB, SYS) and CPU affinity."""

    npus: int = 0
    matrix: dict[str, dict[str, str]] = field(default_factory=dict)
    cpu_affinity: dict[str, str] = field(default_factory=dict)

    def not_hccs(self) -> list[tuple[str, str, str]]:
        """Pairs of distinct NPUs not joined by HCCS: (a, b, what the matrix says)."""
        out = []
        names = sorted(self.matrix, key=int)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                cell = self.matrix[a].get(b, "absent")
                if cell != "HCCS":
                    out.append((a, b, cell))
        return out


def parse_npu_smi_topo(text: str) -> NpuTopo:
    """`npu-smi info -t topo` -> the NPU matrix (indices as text) and each NPU's CPUs."""
    cols: list[str] = []
    matrix: dict[str, dict[str, str]] = {}
    affinity: dict[str, str] = {}
    for ln in lines_of(text):
        if is_prompt(ln):
            continue
        tok = ln.split()
        if not tok:
            continue
        if not cols and tok[0] == "NPU0":
            cols = [t for t in tok if _NPU_COL.match(t)]
            continue
        if cols and _NPU_COL.match(tok[0]) and len(tok) > len(cols):
            cells = tok[1 : 1 + len(cols)]
            matrix[tok[0][3:]] = {c[3:]: v for c, v in zip(cols, cells, strict=True)}
            if len(tok) > 1 + len(cols):
                affinity[tok[0][3:]] = tok[1 + len(cols)]
    missing = [c for c in cols if c[3:] not in matrix]
    return NpuTopo(
        **head(
            "npu-smi-topo",
            is_simulated(text),
            [f"no row for {', '.join(missing)}"] if missing else [],
            empty=not cols,
        ),
        npus=len(cols),
        matrix=matrix,
        cpu_affinity=affinity,
    )
