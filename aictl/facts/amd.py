"""Parsers for AMD Instinct nodes: `amd-smi` (its default table), `amd-smi topology`,
`amd-smi xgmi` and `rocm-smi --showtopo`.

`amd-smi` with no arguments prints a banner with the tool, amdgpu and ROCm versions, then one
two-line cell per GPU: BDF and name on the first line, GPU index, HIP-ID, OAM-ID and the
partition mode on the second; the right half holds utilisation, temperature, the
uncorrectable ECC count (UEC), power and VRAM use. The three indices differ (GPU 4 may be
HIP-ID 5 and OAM-ID 0): aictl names GPUs by the `GPU` index, as every other amd-smi command
does.

`amd-smi topology` prints BDF x BDF matrices, one per property (ACCESS, WEIGHT, HOPS, LINK
TYPE, NUMA BW, ...), with no separators between them; the diagonal may read SELF, ENABLED or
N/A. `amd-smi xgmi` (ROCm 6.1 era) prints a LINK METRIC TABLE: per GPU its bit rate, maximum
bandwidth and link type, then Read/Write rows of per-peer counters. `rocm-smi --showtopo`
prints GPUn x GPUn matrices (weight, hops, link type) and each GPU's NUMA node, after a
banner and possibly a WARNING line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_prompt, is_simulated, lines_of

_BANNER = re.compile(r"AMD-SMI\s+(\S+)\s+amdgpu version:\s*(\S+)\s+ROCm version:\s*(\S+)", re.I)
_PLATFORM = re.compile(r"^\|\s*Platform:\s*(.+?)\s*\|?\s*$")
_CELL1 = re.compile(
    r"^\|\s*([0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+(.+?)\s*\|(.*)\|"
)
_CELL2 = re.compile(r"^\|\s*(\d+)\s+(\d+|N/A)\s+(\d+|N/A)\s+(\S+)\s*\|(.*)\|")
_MEM = re.compile(r"(\d+)\s*/\s*(\d+)\s*MB")
_POWER = re.compile(r"(\S+)/(\d+(?:\.\d+)?)\s*W")
_BDF = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")


def _int(tok: str) -> int | None:
    return int(tok) if tok.isdigit() else None


@dataclass(frozen=True, slots=True)
class AmdGpu:
    """One GPU of the `amd-smi` table."""

    index: int
    bdf: str
    name: str
    hip_id: int | None = None
    oam_id: int | None = None
    partition: str = ""
    uncorrectable: int | None = None
    mem_used_mb: int | None = None
    mem_total_mb: int | None = None
    power_cap_w: float | None = None


@dataclass(frozen=True, kw_only=True)
class AmdSmiTable(Parsed):
    """`amd-smi`: versions and GPUs."""

    amd_smi_version: str | None = None
    amdgpu_version: str | None = None
    rocm_version: str | None = None
    platform: str | None = None
    gpus: tuple[AmdGpu, ...] = ()
    unparsed: tuple[str, ...] = ()


def parse_amd_smi(text: str) -> AmdSmiTable:
    """`amd-smi` (the default table) -> versions and one entry per GPU."""
    versions: tuple[str, str, str] | None = None
    platform = None
    gpus: list[AmdGpu] = []
    pending: tuple[str, str, str] | None = None  # bdf, name, right half of the first line
    unparsed: list[str] = []
    errors: list[str] = []
    for ln in lines_of(text):
        if is_prompt(ln) or not ln.strip():
            continue
        if (m := _BANNER.search(ln)) is not None:
            versions = (m.group(1), m.group(2), m.group(3))
            continue
        if (m := _PLATFORM.match(ln)) is not None:
            platform = m.group(1)
            continue
        if (m := _CELL1.match(ln)) is not None:
            pending = (m.group(1).lower(), m.group(2).strip(), m.group(3))
            continue
        if pending is not None and (m := _CELL2.match(ln)) is not None:
            bdf, name, right1 = pending
            right2 = m.group(5)
            first = right1.split()
            # the UEC column: the third value of the first line's right half
            uec = _int(first[2]) if len(first) >= 3 else None
            mem = _MEM.search(right2)
            power = _POWER.search(right1)
            cap = float(power.group(2)) if power else None
            gpus.append(
                AmdGpu(
                    index=int(m.group(1)),
                    bdf=bdf,
                    name=name,
                    hip_id=_int(m.group(2)),
                    oam_id=_int(m.group(3)),
                    partition=m.group(4),
                    uncorrectable=uec,
                    mem_used_mb=int(mem.group(1)) if mem else None,
                    mem_total_mb=int(mem.group(2)) if mem else None,
                    power_cap_w=cap,
                )
            )
            pending = None
            continue
        s = ln.strip()
        if s.startswith(("+", "|")) or s.startswith("="):
            continue
        if re.search(r"\b(error|not found|failed|unable)\b", s, re.I):
            errors.append(s[:200])
        else:
            unparsed.append(ln)
    return AmdSmiTable(
        **head("amd-smi", is_simulated(text), errors[:1], empty=not gpus),
        amd_smi_version=versions[0] if versions else None,
        amdgpu_version=versions[1] if versions else None,
        rocm_version=versions[2] if versions else None,
        platform=platform,
        gpus=tuple(gpus),
        unparsed=tuple(unparsed[:20]),
    )


_TABLE = re.compile(r"^([A-Z][A-Z -]*?) TABLE:\s*$")


@dataclass(frozen=True, kw_only=True)
class AmdTopology(Parsed):
    """`amd-smi topology`: every table as BDF -> BDF -> cell, in the order printed."""

    bdfs: tuple[str, ...] = ()
    tables: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def link_type(self, a: str, b: str) -> str | None:
        """The LINK TYPE between two GPUs (by BDF), e.g. XGMI or PCIE."""
        return self.tables.get("LINK TYPE", {}).get(a, {}).get(b)

    def not_xgmi(self) -> list[tuple[str, str, str]]:
        """Pairs of distinct GPUs whose link is not xGMI: (a, b, what it is)."""
        out = []
        for i, a in enumerate(self.bdfs):
            for b in self.bdfs[i + 1 :]:
                kind = self.link_type(a, b) or "absent"
                if kind != "XGMI":
                    out.append((a, b, kind))
        return out


def parse_amd_topology(text: str) -> AmdTopology:
    """`amd-smi topology` -> its BDF x BDF tables."""
    tables: dict[str, dict[str, dict[str, str]]] = {}
    name: str | None = None
    cols: list[str] = []
    bdfs: list[str] = []
    for ln in lines_of(text):
        if is_prompt(ln):
            continue
        if (m := _TABLE.match(ln.strip())) is not None:
            name, cols = m.group(1).strip(), []
            tables[name] = {}
            continue
        tok = ln.split()
        if name is None or not tok:
            continue
        if not cols and all(_BDF.match(t) for t in tok):
            cols = [t.lower() for t in tok]
            if not bdfs:
                bdfs = list(cols)
            continue
        if cols and _BDF.match(tok[0]) and len(tok) == len(cols) + 1:
            tables[name][tok[0].lower()] = dict(zip(cols, tok[1:], strict=True))
    errors = [] if tables.get("LINK TYPE") or not tables else ["no LINK TYPE table"]
    return AmdTopology(
        **head("amd-smi-topology", is_simulated(text), errors, empty=not bdfs),
        bdfs=tuple(bdfs),
        tables=tables,
    )


_XGMI_ROW = re.compile(r"^GPU(\d+)\s+([0-9a-fA-F:.]+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def _gbps(value: str, unit: str) -> float | None:
    """`32` `Gb/s` -> 32.0 (amd-smi's link rates); None for N/A."""
    try:
        v = float(value)
    except ValueError:
        return None
    return {"Gb/s": v, "Mb/s": v / 1000, "Tb/s": v * 1000}.get(unit)


@dataclass(frozen=True, slots=True)
class XgmiGpu:
    """One GPU's xGMI links (`amd-smi xgmi`)."""

    index: int
    bdf: str
    bit_rate_gbps: float | None
    max_bandwidth_gbps: float | None
    link_type: str


@dataclass(frozen=True, kw_only=True)
class AmdXgmi(Parsed):
    """`amd-smi xgmi`: the LINK METRIC TABLE."""

    gpus: tuple[XgmiGpu, ...] = ()


def parse_amd_xgmi(text: str) -> AmdXgmi:
    """`amd-smi xgmi` -> per GPU its link rate, bandwidth and type."""
    gpus = []
    for ln in lines_of(text):
        m = _XGMI_ROW.match(ln.strip())
        if m is None or not _BDF.match(m.group(2)):
            continue
        gpus.append(
            XgmiGpu(
                int(m.group(1)),
                m.group(2).lower(),
                _gbps(m.group(3), m.group(4)),
                _gbps(m.group(5), m.group(6)),
                m.group(7),
            )
        )
    return AmdXgmi(**head("amd-smi-xgmi", is_simulated(text), [], empty=not gpus), gpus=tuple(gpus))


_SECTION = re.compile(r"^=+\s*(.+?)\s*=+$")
_NUMA = re.compile(r"^GPU\[?(\d+)\]?\s*:\s*\(Topology\)\s*Numa Node:\s*(-?\d+)")


@dataclass(frozen=True, kw_only=True)
class RocmTopo(Parsed):
    """`rocm-smi --showtopo`: GPU x GPU matrices and each GPU's NUMA node."""

    gpus: int = 0
    weight: dict[str, dict[str, str]] = field(default_factory=dict)
    hops: dict[str, dict[str, str]] = field(default_factory=dict)
    link_type: dict[str, dict[str, str]] = field(default_factory=dict)
    numa: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def parse_rocm_showtopo(text: str) -> RocmTopo:
    """`rocm-smi --showtopo` -> weight, hops and link type between GPUs; NUMA per GPU."""
    matrices: dict[str, dict[str, dict[str, str]]] = {}
    numa: dict[str, int] = {}
    warnings: list[str] = []
    section = ""
    cols: list[str] = []
    for ln in lines_of(text):
        s = ln.strip()
        if not s or is_prompt(ln):
            continue
        if (m := _SECTION.match(s)) is not None:
            section, cols = m.group(1).lower(), []
            continue
        if s.startswith("WARNING"):
            warnings.append(s)
            continue
        if (m := _NUMA.match(s)) is not None:
            numa[m.group(1)] = int(m.group(2))
            continue
        tok = s.split()
        if not cols and tok and all(re.fullmatch(r"GPU\d+", t) for t in tok):
            cols = [t[3:] for t in tok]
            continue
        if cols and re.fullmatch(r"GPU\d+", tok[0]) and len(tok) == len(cols) + 1:
            key = next((k for k in ("weight", "hops", "link type") if k in section), section)
            matrices.setdefault(key, {})[tok[0][3:]] = dict(zip(cols, tok[1:], strict=True))
    n = max((len(m) for m in matrices.values()), default=len(numa))
    return RocmTopo(
        **head("rocm-smi-topo", is_simulated(text), [], empty=not (matrices or numa)),
        gpus=n,
        weight=matrices.get("weight", {}),
        hops=matrices.get("hops", {}),
        link_type=matrices.get("link type", {}),
        numa=numa,
        warnings=tuple(warnings),
    )
