#!/usr/bin/python3
"""Simulated AMD Instinct tools for lab nodes (stdlib only: runs with the node's python3).

`amd-smi` (the default table, `topology`, `xgmi`, `list`, `version`), `rocm-smi --showtopo`,
and AMD's side of `lsmod` and `lspci -vvv`, in the real tools' formats, from the node's
hardware JSON; simtools.py dispatches here for a node whose `vendor` is amd. perftest
(`--use_rocm`) and rccl-tests live in simtools.py beside their NVIDIA forms.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

MARK = "# aictl-lab: simulated {tool} output ({node})"


def mark(tool: str, hw: dict[str, Any]) -> str:
    return MARK.format(tool=tool, node=hw["node"])


def _row(text: str) -> str:
    return f"|{text}|"


def smi_table(hw: dict[str, Any]) -> list[str]:
    """`amd-smi` with no arguments: banner, one two-line cell per GPU, processes."""
    full = "+" + "-" * 78 + "+"
    split = "|" + "-" * 37 + "+" + "-" * 40 + "|"
    banner = f" AMD-SMI {hw['amd_smi']:<20} amdgpu version: {hw['amdgpu']}  ROCm version: "
    banner += hw["rocm"]
    out = [
        full,
        _row(banner.ljust(78)),
        _row(" Platform: Linux Baremetal".ljust(78)),
        split,
        _row(" BDF                        GPU-Name | Mem-Uti   Temp   UEC       Power-Usage "),
        _row(" GPU  HIP-ID  OAM-ID  Partition-Mode | GFX-Uti    Fan               Mem-Usage "),
        "|" + "=" * 37 + "+" + "=" * 40 + "|",
    ]
    for g in hw["gpus"]:
        bdf, name = g["bdf"], g["model"]
        left1 = " " + bdf + name.rjust(35 - len(bdf)) + " "
        left2 = f"{g['index']:>4}{g['hip_id']:>8}{g['oam_id']:>8}{'SPX/NPS1':>16} "
        right1 = f" {'N/A':<11}{'N/A':<6}{g['uec']!s:<11}{'N/A/750 W':>10} "
        right2 = f" {'N/A':<11}{'N/A':<3}{'283/196592 MB':>24} "
        out += [f"|{left1}|{right1}|", f"|{left2}|{right2}|", split]
    out[-1] = "+" + "-" * 37 + "+" + "-" * 40 + "+"
    out += [
        full,
        _row(" Processes:".ljust(78)),
        _row("  GPU        PID  Process Name          GTT_MEM  VRAM_MEM  MEM_USAGE     CU % "),
        "|" + "=" * 78 + "|",
        _row("  No running processes found".ljust(78)),
        full,
    ]
    return out


def _linked(hw: dict[str, Any], a: dict[str, Any], b: dict[str, Any]) -> bool:
    """xGMI joins two GPUs unless one of them lost the link to the other."""
    return (
        bool(a["xgmi_links"])
        and b["index"] not in a["xgmi_down"]
        and a["index"] not in b["xgmi_down"]
    )


def topology(hw: dict[str, Any]) -> list[str]:
    """`amd-smi topology`: BDF x BDF tables (a GPU pair whose xGMI is down goes over PCIe)."""
    gpus = hw["gpus"]
    bdfs = [g["bdf"] for g in gpus]
    head = " " * 13 + " ".join(f"{b:<12}" for b in bdfs).rstrip()

    def table(name: str, cell: Any) -> list[str]:
        rows = [f"{name} TABLE:", head]
        for a in gpus:
            cells = [cell(a, b) for b in gpus]
            rows.append(f"{a['bdf']} " + " ".join(f"{c:<12}" for c in cells).rstrip())
        return rows

    def link(a: dict[str, Any], b: dict[str, Any]) -> str:
        if a is b:
            return "SELF"
        return "XGMI" if _linked(hw, a, b) else "PCIE"

    def hops(a: dict[str, Any], b: dict[str, Any]) -> str:
        return "0" if a is b else ("1" if _linked(hw, a, b) else "2")

    out = table("ACCESS", lambda a, b: "ENABLED")
    out += table("WEIGHT", lambda a, b: "0")
    out += table("HOPS", hops)
    out += table("LINK TYPE", link)
    out += table("NUMA BW", lambda a, b: "N/A" if a is b else "0-0")
    return out


def xgmi(hw: dict[str, Any]) -> list[str]:
    """`amd-smi xgmi`: the LINK METRIC TABLE (rates per GPU; counters left at zero)."""
    gpus = hw["gpus"]
    out = [
        "LINK METRIC TABLE:",
        "       bdf          bit_rate max_bandwidth link_type "
        + " ".join(f"{g['bdf']:<12}" for g in gpus).rstrip(),
    ]
    for g in gpus:
        out.append(f"GPU{g['index']:<3} {g['bdf']} 32 Gb/s  512 Gb/s      XGMI")
        for what in ("Read", "Write"):
            cells = ["N/A" if o is g else "0 KB" for o in gpus]
            out.append(f" {what:<51}" + " ".join(f"{c:<12}" for c in cells).rstrip())
    return out


def amd_smi(args: list[str], hw: dict[str, Any]) -> int:
    if not args:
        lines = smi_table(hw)
    elif args[0] == "topology":
        lines = topology(hw)
    elif args[0] == "xgmi":
        lines = xgmi(hw)
    elif args[0] == "version":
        lines = [
            f"AMDSMI Tool: {hw['amd_smi']} | AMDSMI Library version: "
            f"{hw['amd_smi'].split('+')[0]} | ROCm version: {hw['rocm']} | amdgpu version: "
            f"{hw['amdgpu']} | amd_hsmp version: N/A"
        ]
    elif args[0] == "list":
        lines = []
        for g in hw["gpus"]:
            lines += [f"GPU: {g['index']}", f"    BDF: {g['bdf']}", f"    UUID: {g['uuid']}", ""]
    else:
        print(f"amd-smi: error: argument : invalid choice: '{args[0]}'")
        return 2
    print("\n".join([mark("amd-smi", hw), *lines]))
    return 0


def rocm_smi(args: list[str], hw: dict[str, Any]) -> int:
    """`rocm-smi --showtopo` (the one view aictl reads)."""
    if "--showtopo" not in args:
        print("ERROR: the aictl lab simulates rocm-smi --showtopo only")
        return 2
    gpus = hw["gpus"]
    width = 90

    def banner(title: str) -> str:
        return f" {title} ".center(width, "=")

    def matrix(title: str, cell: Any) -> list[str]:
        rows = [
            "",
            banner(title),
            ("       " + "".join(f"GPU{g['index']:<10}" for g in gpus)).rstrip(),
        ]
        for a in gpus:
            rows.append(
                (f"GPU{a['index']:<4}" + "".join(f"{cell(a, b):<13}" for b in gpus)).rstrip()
            )
        return rows

    def linked(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return _linked(hw, a, b)

    out = [banner("ROCm System Management Interface")]
    out += matrix("Weight between two GPUs", lambda a, b: "0" if a is b else "15")
    out += matrix(
        "Hops between two GPUs", lambda a, b: "0" if a is b else ("1" if linked(a, b) else "2")
    )
    out += matrix(
        "Link Type between two GPUs",
        lambda a, b: "0" if a is b else ("XGMI" if linked(a, b) else "PCIE"),
    )
    out += ["", banner("Numa Nodes")]
    for g in gpus:
        out.append(f"GPU[{g['index']}]".ljust(16) + f": (Topology) Numa Node: {g['numa']}")
        out.append(f"GPU[{g['index']}]".ljust(16) + f": (Topology) Numa Affinity: {g['numa']}")
    out.append(banner("End of ROCm SMI Log"))
    print("\n".join([mark("rocm-smi", hw), *out]))
    return 0


def lsmod(args: list[str], hw: dict[str, Any]) -> int:
    """The host's modules with amdgpu's (when loaded) and the lab's marker on top."""
    lines = ["Module                  Size  Used by"]
    for path in ("/usr/bin/lsmod", "/sbin/lsmod", "/bin/lsmod", "/usr/sbin/lsmod"):
        if os.path.exists(path):
            real = subprocess.run([path], capture_output=True, text=True, check=False)
            lines = real.stdout.splitlines() or lines
            break
    sim = ["amdgpu              19578880  0", "amdxcp                 12288  1 amdgpu"]
    if not hw["peermem"]:
        sim = []
    sim.append("aictl_lab_simulated        0  0")
    print("\n".join([lines[0], *sim, *lines[1:]]))
    return 0


def lspci_devices(hw: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]]:
    """AMD GPUs as lspci lists them (`Processing accelerators`), with the node's NICs."""
    out = [(g["bdf"], _amd_name(g["model"]), g, "gpu") for g in hw["gpus"]]
    out += [
        (
            n["bdf"],
            "Ethernet controller: Mellanox Technologies MT2910 Family [ConnectX-7]",
            n,
            "nic",
        )
        for n in hw["nics"]
    ]
    return out


def _amd_name(model: str) -> str:
    return (
        "Processing accelerators: Advanced Micro Devices, Inc. [AMD/ATI] Aqua Vanjaram "
        f"[{model.removeprefix('AMD ')}]"
    )


TOOLS = {"amd-smi": amd_smi, "rocm-smi": rocm_smi, "lsmod": lsmod}
