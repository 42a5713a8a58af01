"""Parsers for nvidia-smi: `topo -m`, `nvlink -s`, `-q` (any `-d` selection).

`topo -m` comes in two layouts: old (RDMA devices as columns, `mlx5_0`) and new (`NIC0` columns
resolved by a `NIC Legend`); cells are separated by tabs or spaces. A GPU's nearest NICs are
the ones at its smallest PCIe distance; NVLink cells (`NV<n>`, n bonded links) are
GPU-to-GPU only. The columns after the devices (`CPU Affinity`, `NUMA Affinity`, `GPU NUMA
ID`) are not devices; there may be more NICs than GPUs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_prompt, is_simulated, kv, lines_of

# PCIe distance, nearest first (nvidia-smi's legend)
DISTANCE = ("PIX", "PXB", "PHB", "NODE", "SYS")
_DEVICE = re.compile(r"^(GPU\d+|NIC\d+|[a-z][a-z0-9]*_\d+)$")
_LEGEND = re.compile(r"^\s+(NIC\d+):\s+(\S+)\s*$")


@dataclass(frozen=True, kw_only=True)
class TopoMatrix(Parsed):
    """`nvidia-smi topo -m`: GPU rows against NIC columns (GPU index as text -> NIC -> cell)."""

    gpus: int = 0
    nics: tuple[str, ...] = ()
    matrix: dict[str, dict[str, str]]
    nearest_nics: dict[str, tuple[str, ...]]
    # GPU-to-GPU NVLink: `NV18` is 18 bonded links (a GPU with none is absent)
    nvlinks: dict[str, dict[str, int]] = field(default_factory=dict)
    # per GPU: CPU affinity, NUMA affinity, GPU NUMA ID (Grace systems: every NIC is SYS
    # away, so locality is in these, not in the PCIe distance)
    affinity: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unparsed: tuple[str, ...] = ()

    def near(self, gpu: int) -> tuple[str, ...]:
        """The NICs at GPU `gpu`'s smallest PCIe distance."""
        return self.nearest_nics.get(str(gpu), ())


def parse_topo(text: str) -> TopoMatrix:
    """`nvidia-smi topo -m` -> devices, the full matrix and `nearest_nics` per GPU."""
    lines = [ln for ln in lines_of(text) if not is_prompt(ln)]
    cols: list[str] = []
    rows: dict[str, list[str]] = {}
    legend: dict[str, str] = {}
    unparsed: list[str] = []
    extra: dict[str, tuple[str, ...]] = {}
    for ln in lines:
        tokens = ln.split()
        if not tokens:
            continue
        if not cols and tokens[0] == "GPU0":
            cols = [t for t in tokens if _DEVICE.match(t)]
            continue
        m = _LEGEND.match(ln)
        if m:
            legend[m.group(1)] = m.group(2)
        elif cols and _DEVICE.match(tokens[0]) and len(tokens) > len(cols):
            rows[tokens[0]] = tokens[1 : 1 + len(cols)]
            if tokens[0].startswith("GPU") and len(tokens) > 1 + len(cols):
                extra[tokens[0][3:]] = tuple(tokens[1 + len(cols) : 4 + len(cols)])
        elif cols and not ln.startswith(" ") and tokens[0] not in ("Legend:", "NIC"):
            unparsed.append(ln)
    sim = is_simulated(text)
    if not cols:
        return TopoMatrix(
            **head("topo", sim, [], empty=True),
            matrix={},
            nearest_nics={},
            unparsed=tuple(unparsed[:20]),
        )
    gpus = [c for c in cols if c.startswith("GPU")]
    nics = [c for c in cols if not c.startswith("GPU")]
    name = {c: legend.get(c, c) for c in nics}
    matrix: dict[str, dict[str, str]] = {}
    nearest: dict[str, tuple[str, ...]] = {}
    nvlinks: dict[str, dict[str, int]] = {}
    for g in gpus:
        cells = dict(zip(cols, rows.get(g, []), strict=False))
        lanes = {
            o[3:]: int(c[2:])
            for o in gpus
            if (c := cells.get(o, "")).startswith("NV") and c[2:].isdigit()
        }
        if lanes:
            nvlinks[g[3:]] = lanes
        matrix[g[3:]] = {name[n]: cells[n] for n in nics if n in cells}
        ranked = [(DISTANCE.index(cells[n]), name[n]) for n in nics if cells.get(n) in DISTANCE]
        best = min((r for r, _ in ranked), default=None)
        nearest[g[3:]] = tuple(n for r, n in ranked if r == best)
    missing = [g for g in gpus if g not in rows]
    return TopoMatrix(
        **head("topo", sim, [f"no row for {', '.join(missing)}"] if missing else []),
        gpus=len(gpus),
        nics=tuple(name[n] for n in nics),
        matrix=matrix,
        nearest_nics=nearest,
        nvlinks=nvlinks,
        affinity=extra,
        unparsed=tuple(unparsed[:20]),
    )


_GPU_HEAD = re.compile(r"^GPU (\d+): (.+?) \(UUID: (\S+)\)\s*$")
_LINK = re.compile(r"^\s*Link (\d+): (.+?)\s*$")


@dataclass(frozen=True, slots=True)
class NvlinkGpu:
    """One GPU's NVLinks."""

    index: int
    model: str
    uuid: str
    links_active: int
    links_total: int
    gbytes: tuple[float, ...]
    # NVML could not list the links because none is up (`all links are inActive`)
    all_inactive: bool = False


@dataclass(frozen=True, kw_only=True)
class NvlinkStatus(Parsed):
    """`nvidia-smi nvlink -s`."""

    gpus: tuple[NvlinkGpu, ...] = ()
    unparsed: tuple[str, ...] = ()


def parse_nvlink(text: str) -> NvlinkStatus:
    """`nvidia-smi nvlink -s [-i N]` -> per GPU: links active and total."""
    heads: list[tuple[int, str, str]] = []
    links: list[list[float | None]] = []
    dark: set[int] = set()  # positions in `heads` whose links NVML says are all down
    unparsed: list[str] = []
    for ln in lines_of(text):
        if not ln.strip() or is_prompt(ln):
            continue
        m = _GPU_HEAD.match(ln)
        if m:
            heads.append((int(m.group(1)), m.group(2), m.group(3)))
            links.append([])
            continue
        if heads and "all links are inactive" in ln.lower():
            dark.add(len(heads) - 1)
            continue
        m = _LINK.match(ln)
        if m and heads:
            speed = re.match(r"([\d.]+) GB/s", m.group(2))
            gbs = float(speed.group(1)) if speed else math.inf
            links[-1].append(gbs if math.isfinite(gbs) else None)
            continue
        unparsed.append(ln)
    gpus = tuple(
        NvlinkGpu(
            index,
            model,
            uuid,
            sum(1 for x in ls if x is not None),
            len(ls),
            tuple(x for x in ls if x is not None),
            i in dark,
        )
        for i, ((index, model, uuid), ls) in enumerate(zip(heads, links, strict=True))
    )
    return NvlinkStatus(
        **head("nvlink", is_simulated(text), [], empty=not gpus),
        gpus=gpus,
        unparsed=tuple(unparsed[:20]),
    )


def _tree(lines: list[str]) -> list[tuple[str, str]]:
    """Indented `Key : value` lines -> (path, value); headers without a value nest."""
    stack: list[tuple[int, str]] = []
    out: list[tuple[str, str]] = []
    for ln in lines:
        if not ln.strip():
            continue
        indent = len(ln) - len(ln.lstrip(" "))
        pair = kv(ln)
        key, value = pair if pair and pair[1] else (ln.strip().rstrip(":"), "")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = "/".join([*(k for _, k in stack), key])
        if value or pair:
            out.append((path, value))
        if not value:
            stack.append((indent, key))
    return out


def _known(value: str | None) -> str | None:
    """A value nvidia-smi has (`N/A`, `Not Supported` say it has none)."""
    return None if value in (None, "", "N/A", "Not Supported", "[N/A]") else value


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    m = re.match(r"^(\d+)", value)
    return int(m.group(1)) if m else None


_REASONS = ("Clocks Event Reasons/", "Clocks Throttle Reasons/")  # R535+ name, older name
_ERR = re.compile(r"unknown error|gpu requires reset|^err!$", re.I)


def _active_reasons(facts: dict[str, str]) -> tuple[str, ...]:
    """Clock event reasons whose value is `Active` (the counters section holds durations)."""
    out = []
    for path, value in facts.items():
        for sec in _REASONS:
            if sec in path and "Counters" not in path and value == "Active":
                out.append(path.rsplit("/", 1)[-1])
    return tuple(dict.fromkeys(out))


def _recovery(value: str | None) -> str | None:
    value = _known(value)
    return None if value in (None, "None") else value


def _unreadable(value: str) -> bool:
    return bool(_ERR.search(value.strip("[] ")))


@dataclass(frozen=True, slots=True)
class SmiGpu:
    """One GPU of `nvidia-smi -q`."""

    index: int
    bus_id: str
    model: str | None
    uuid: str | None
    pcie_gen: int | None
    pcie_gen_max: int | None
    pcie_width: int | None
    pcie_width_max: int | None
    retired_sbe: int | None
    retired_dbe: int | None
    retired_pending: bool
    remap_pending: bool
    remap_failure: bool
    volatile_uncorrectable: int | None
    fabric_state: str | None
    fabric_health: str | None = None  # Fabric > Health > Summary (Healthy / Unhealthy)
    # the clock event (throttle) reasons that are Active now, by nvidia-smi's names
    clock_events: tuple[str, ...] = ()
    # GPU Reset Status (R550+): the driver asks for a reset / a drain and reset
    reset_required: bool = False
    drain_reset: bool = False
    recovery_action: str | None = None  # GPU Recovery Action (R570+), None when "None"
    # fields NVML could not read ("Unknown Error", "GPU requires reset"): the ERR! of the table
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SmiQuery(Parsed):
    """`nvidia-smi -q`."""

    driver: str | None = None
    cuda: str | None = None
    attached: int | None = None
    gpus: tuple[SmiGpu, ...] = ()


def parse_smi_query(text: str) -> SmiQuery:
    """`nvidia-smi -q [-d ...]` -> driver, CUDA, per GPU: model, PCIe link, ECC, retirement."""
    top: dict[str, str] = {}
    sections: list[tuple[str, list[str]]] = []
    errors: list[str] = []
    for ln in lines_of(text):
        if is_prompt(ln):
            continue
        m = re.match(r"^GPU ([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.\d)\s*$", ln)
        if m:
            sections.append((m.group(1), []))
        elif sections and (ln.startswith(" ") or not ln.strip()):
            sections[-1][1].append(ln)
        elif ln.startswith(("NVIDIA-SMI has failed", "No devices were found")):
            errors.append(ln.strip())
        else:
            pair = kv(ln)
            if pair and pair[1]:
                top[pair[0]] = pair[1]
    gpus = []
    for index, (bus, body) in enumerate(sections):
        facts = dict(_tree(body))

        def get(*suffixes: str, facts: dict[str, str] = facts) -> str | None:
            for s in suffixes:
                for path, value in facts.items():
                    if path == s or path.endswith("/" + s):
                        return value
            return None

        pending = get(
            "Retired Pages/Pending Page Blacklist", "Retired Pages/Pending Page Retirement"
        )
        gpus.append(
            SmiGpu(
                index=index,
                bus_id=bus,
                model=get("Product Name"),
                uuid=get("GPU UUID"),
                pcie_gen=_int(get("PCIe Generation/Current")),
                pcie_gen_max=_int(get("PCIe Generation/Max")),
                pcie_width=_int(get("Link Width/Current")),
                pcie_width_max=_int(get("Link Width/Max")),
                retired_sbe=_int(get("Retired Pages/Single Bit ECC")),
                retired_dbe=_int(get("Retired Pages/Double Bit ECC")),
                retired_pending=(pending or "") == "Yes",
                remap_pending=(get("Remapped Rows/Pending") or "") == "Yes",
                remap_failure=(get("Remapped Rows/Remapping Failure Occurred") or "") == "Yes",
                volatile_uncorrectable=_int(
                    get("Volatile/DRAM Uncorrectable", "Volatile/Double Bit/Total")
                ),
                fabric_state=_known(get("Fabric/State")),
                fabric_health=_known(get("Fabric/Health/Summary")),
                clock_events=_active_reasons(facts),
                reset_required=(get("GPU Reset Status/Reset Required") or "") == "Yes",
                drain_reset=(get("GPU Reset Status/Drain and Reset Recommended") or "") == "Yes",
                recovery_action=_recovery(get("GPU Recovery Action")),
                unreadable=tuple(
                    sorted({p.rsplit("/", 1)[-1] for p, v in facts.items() if _unreadable(v)})
                ),
            )
        )
    attached = _int(top.get("Attached GPUs"))
    # `-q -i N` prints one GPU under the system's count: only more sections than GPUs is wrong
    if attached is not None and len(gpus) > attached:
        errors.append(f"Attached GPUs says {attached}, {len(gpus)} GPU sections found")
    return SmiQuery(
        **head("nvidia-smi-q", is_simulated(text), errors, empty=attached is None and not gpus),
        driver=top.get("Driver Version"),
        cuda=top.get("CUDA Version"),
        attached=attached,
        gpus=tuple(gpus),
    )


_ERR_LINE = re.compile(r"^\s*Link (\d+): ([A-Za-z][A-Za-z ]*?(?:Errors?|Counter)):\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class NvlinkErrors:
    """One GPU's NVLink error counters: counter name -> summed over links, and the links that
    have any."""

    index: int
    totals: dict[str, int]
    links: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class NvlinkErrorCounters(Parsed):
    """`nvidia-smi nvlink -e`."""

    gpus: tuple[NvlinkErrors, ...] = ()
    unparsed: tuple[str, ...] = ()


def parse_nvlink_errors(text: str) -> NvlinkErrorCounters:
    """`nvidia-smi nvlink -e` -> per GPU: each counter (Replay, Recovery, CRC, ...) summed over
    its links, and the links with a non-zero count."""
    gpus: list[tuple[int, dict[str, int], set[int]]] = []
    unparsed: list[str] = []
    for ln in lines_of(text):
        if not ln.strip() or is_prompt(ln):
            continue
        m = _GPU_HEAD.match(ln)
        if m:
            gpus.append((int(m.group(1)), {}, set()))
            continue
        m = _ERR_LINE.match(ln)
        if m and gpus:
            _, totals, links = gpus[-1]
            name, value = m.group(2).strip(), int(m.group(3))
            totals[name] = totals.get(name, 0) + value
            if value:
                links.add(int(m.group(1)))
            continue
        unparsed.append(ln)
    out = tuple(
        NvlinkErrors(i, dict(sorted(t.items())), tuple(sorted(links))) for i, t, links in gpus
    )
    return NvlinkErrorCounters(
        **head("nvlink-errors", is_simulated(text), [], empty=not any(g.totals for g in out)),
        gpus=out,
        unparsed=tuple(unparsed[:20]),
    )
