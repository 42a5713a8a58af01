"""Parsers for nvidia-smi: `topo -m`, `nvlink -s`, `-q` (any `-d` selection).

`topo -m` comes in two layouts: old (RDMA devices as columns, `mlx5_0`) and new (`NIC0` columns
resolved by a `NIC Legend`); cells are separated by tabs or spaces. A GPU's nearest NICs are
the ones at its smallest PCIe distance; NVLink cells are GPU-to-GPU only.
"""

from __future__ import annotations

import re
from typing import Any

from aictl.checks._text import is_prompt, kv, lines_of, result

# PCIe distance, nearest first (nvidia-smi's legend)
DISTANCE = ("PIX", "PXB", "PHB", "NODE", "SYS")
_DEVICE = re.compile(r"^(GPU\d+|NIC\d+|[a-z][a-z0-9]*_\d+)$")
_LEGEND = re.compile(r"^\s+(NIC\d+):\s+(\S+)\s*$")


def parse_topo(text: str) -> dict[str, Any]:
    """`nvidia-smi topo -m` -> devices, the full matrix and `nearest_nics` per GPU."""
    lines = [ln for ln in lines_of(text) if not is_prompt(ln)]
    cols: list[str] = []
    rows: dict[str, list[str]] = {}
    legend: dict[str, str] = {}
    unparsed: list[str] = []
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
        elif cols and not ln.startswith(" ") and tokens[0] not in ("Legend:", "NIC"):
            unparsed.append(ln)
    if not cols:
        return result("topo", text, empty=True, unparsed=unparsed[:20])
    gpus = [c for c in cols if c.startswith("GPU")]
    nics = [c for c in cols if not c.startswith("GPU")]
    name = {c: legend.get(c, c) for c in nics}
    matrix: dict[str, dict[str, str]] = {}
    nearest: dict[str, list[str]] = {}
    for g in gpus:
        cells = dict(zip(cols, rows.get(g, []), strict=False))
        matrix[g[3:]] = {name[n]: cells[n] for n in nics if n in cells}
        ranked = [(DISTANCE.index(cells[n]), name[n]) for n in nics if cells.get(n) in DISTANCE]
        best = min((r for r, _ in ranked), default=None)
        nearest[g[3:]] = [n for r, n in ranked if r == best]
    missing = [g for g in gpus if g not in rows]
    return result(
        "topo",
        text,
        gpus=len(gpus),
        nics=[name[n] for n in nics],
        matrix=matrix,
        nearest_nics=nearest,
        errors=[f"no row for {', '.join(missing)}"] if missing else [],
        unparsed=unparsed[:20],
    )


_GPU_HEAD = re.compile(r"^GPU (\d+): (.+?) \(UUID: (\S+)\)\s*$")
_LINK = re.compile(r"^\s*Link (\d+): (.+?)\s*$")


def parse_nvlink(text: str) -> dict[str, Any]:
    """`nvidia-smi nvlink -s [-i N]` -> per GPU: links active and total."""
    gpus: list[dict[str, Any]] = []
    unparsed: list[str] = []
    for ln in lines_of(text):
        if not ln.strip() or is_prompt(ln):
            continue
        m = _GPU_HEAD.match(ln)
        if m:
            gpus.append(
                {
                    "index": int(m.group(1)),
                    "model": m.group(2),
                    "uuid": m.group(3),
                    "links_active": 0,
                    "links_total": 0,
                    "gbytes": [],
                }
            )
            continue
        m = _LINK.match(ln)
        if m and gpus:
            g = gpus[-1]
            g["links_total"] += 1
            speed = re.match(r"([\d.]+) GB/s", m.group(2))
            if speed:
                g["links_active"] += 1
                g["gbytes"].append(float(speed.group(1)))
            continue
        unparsed.append(ln)
    return result("nvlink", text, gpus=gpus, empty=not gpus, unparsed=unparsed[:20])


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


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    m = re.match(r"^(\d+)", value)
    return int(m.group(1)) if m else None


def parse_smi_query(text: str) -> dict[str, Any]:
    """`nvidia-smi -q [-d ...]` -> driver, CUDA, per GPU: model, PCIe link, ECC, retirement."""
    head: dict[str, str] = {}
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
                head[pair[0]] = pair[1]
    gpus = []
    for index, (bus, body) in enumerate(sections):
        facts = dict(_tree(body))

        def get(*suffixes: str, facts: dict[str, str] = facts) -> str | None:
            for s in suffixes:
                for path, value in facts.items():
                    if path == s or path.endswith("/" + s):
                        return value
            return None

        gpus.append(
            {
                "index": index,
                "bus_id": bus,
                "model": get("Product Name"),
                "uuid": get("GPU UUID"),
                "pcie_gen": _int(get("PCIe Generation/Current")),
                "pcie_gen_max": _int(get("PCIe Generation/Max")),
                "pcie_width": _int(get("Link Width/Current")),
                "pcie_width_max": _int(get("Link Width/Max")),
                "retired_sbe": _int(get("Retired Pages/Single Bit ECC")),
                "retired_dbe": _int(get("Retired Pages/Double Bit ECC")),
                "retired_pending": (
                    get(
                        "Retired Pages/Pending Page Blacklist",
                        "Retired Pages/Pending Page Retirement",
                    )
                    or ""
                )
                == "Yes",
                "remap_pending": (get("Remapped Rows/Pending") or "") == "Yes",
                "remap_failure": (get("Remapped Rows/Remapping Failure Occurred") or "") == "Yes",
                "volatile_uncorrectable": _int(
                    get("Volatile/DRAM Uncorrectable", "Volatile/Double Bit/Total")
                ),
                "fabric_state": get("Fabric/State"),
            }
        )
    attached = _int(head.get("Attached GPUs"))
    if attached is not None and attached != len(gpus) and gpus:
        errors.append(f"Attached GPUs says {attached}, {len(gpus)} GPU sections found")
    return result(
        "nvidia-smi-q",
        text,
        driver=head.get("Driver Version"),
        cuda=head.get("CUDA Version"),
        attached=attached,
        gpus=gpus,
        errors=errors,
        empty=attached is None and not gpus,
    )
