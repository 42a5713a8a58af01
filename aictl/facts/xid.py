"""What to do about an Xid or SXid: NVIDIA's Xid catalogue (Ampere and newer), reduced to the
actions an operator takes.

NVIDIA publishes, per Xid code, a "resolution bucket" for the immediate action (restart the
application, reset the GPU, reboot the node, contact support...). aictl keeps the codes that
show up on training clusters, each with a short name in our own words and one `XidAction`;
codes it does not know are `LOOK_UP` (shown, not failed: read the catalogue). The catalogue is
data, read by the kernel-log parser (kernel.py) and the `xid` check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class XidAction(StrEnum):
    """The operator's next step for an event (ordered from least to most drastic)."""

    IGNORE = "ignore"  # informational, or a consequence of an earlier event
    WATCH = "watch"  # corrected by the hardware; watch the rate
    RESTART_JOB = "restart-job"  # an application fault: the job restarts, the GPU is fine
    LOOK_UP = "look-up"  # a code aictl's catalogue does not list
    RESET_GPU = "reset-gpu"  # drain the node, reset the GPU (nvidia-smi -r), rerun diagnostics
    REBOOT = "reboot"  # drain and reboot the node (the GPU or NVSwitch cannot be reset alone)
    INSPECT = "inspect"  # hardware: drain, run dcgmi diag -r 3, RMA on failure


# how bad each action is for the node: warn keeps it in service, fail drains it
FAILS = frozenset({XidAction.RESET_GPU, XidAction.REBOOT, XidAction.INSPECT})

FIX = {
    XidAction.RESTART_JOB: "restart the job; if the same code follows the job to other nodes, "
    "debug the application (compute-sanitizer), not the GPU",
    XidAction.WATCH: "keep the node in service; drain it when the count keeps rising",
    XidAction.LOOK_UP: "look the code up in NVIDIA's Xid catalogue and collect "
    "nvidia-bug-report.sh",
    XidAction.RESET_GPU: "drain the node, reset the GPU (nvidia-smi -r -i <gpu>, or reboot), "
    "then dcgmi diag -r 2; RMA if it returns",
    XidAction.REBOOT: "drain and reboot the node; if it returns, reseat the GPU/baseboard and "
    "check its power and riser, then RMA",
    XidAction.INSPECT: "drain the node, run dcgmi diag -r 3 and open an RMA with the "
    "nvidia-bug-report.sh output",
}


@dataclass(frozen=True, slots=True)
class XidInfo:
    """One catalogue entry."""

    code: int
    name: str
    action: XidAction


def _entries() -> dict[int, XidInfo]:
    a = XidAction
    rows: list[tuple[int | range, str, XidAction]] = [
        (8, "GPU stopped processing (channel idle timeout)", a.RESTART_JOB),
        (13, "graphics engine exception (application fault)", a.RESTART_JOB),
        (31, "GPU memory page fault (illegal address in a kernel)", a.RESTART_JOB),
        (32, "invalid or corrupted push buffer stream", a.RESTART_JOB),
        (43, "GPU stopped processing a channel (application fault)", a.RESTART_JOB),
        (45, "preemptive cleanup after an earlier error", a.IGNORE),
        (48, "double-bit ECC error in GPU memory", a.RESET_GPU),
        (61, "internal micro-controller breakpoint", a.RESET_GPU),
        (62, "internal micro-controller halt", a.RESET_GPU),
        (63, "row remapping / page retirement recorded (applies on reset)", a.RESET_GPU),
        (64, "row remapping / page retirement failed", a.INSPECT),
        (68, "video engine exception", a.RESTART_JOB),
        (69, "graphics engine class error", a.RESTART_JOB),
        (74, "NVLink error", a.RESET_GPU),
        (79, "GPU has fallen off the bus", a.REBOOT),
        (92, "high single-bit ECC error rate", a.WATCH),
        (94, "contained ECC error (the job using that memory was stopped)", a.RESTART_JOB),
        (95, "uncontained ECC error", a.RESET_GPU),
        (109, "context switch timeout", a.RESTART_JOB),
        (110, "security fault", a.RESET_GPU),
        (119, "GSP RPC timeout", a.RESET_GPU),
        (120, "GSP error", a.RESET_GPU),
        (121, "C2C link corrected error", a.WATCH),
        (140, "unrecovered ECC error", a.RESET_GPU),
        (143, "GPU initialization failure", a.REBOOT),
        (range(144, 151), "NVLink link-layer error (SAW/RLW/TLW/TREX/NVLPW/NETIR)", a.RESET_GPU),
        (154, "GPU recovery action changed", a.IGNORE),  # the action is in its text
    ]
    out = {}
    for codes, name, action in rows:
        for c in codes if isinstance(codes, range) else (codes,):
            out[c] = XidInfo(c, name, action)
    return out


CATALOGUE = _entries()
# Xid 154 names the driver's own recovery verdict: "... to 0x2 (Node Reboot Required)"
_RECOVERY = (
    (re.compile(r"reboot", re.I), XidAction.REBOOT),
    (re.compile(r"reset", re.I), XidAction.RESET_GPU),
    (re.compile(r"drain", re.I), XidAction.RESET_GPU),
)


def classify(code: int, text: str = "") -> XidInfo:
    """The catalogue entry for Xid `code` (its text decides for Xid 154)."""
    info = CATALOGUE.get(code)
    if info is None:
        return XidInfo(code, "not in aictl's Xid catalogue", XidAction.LOOK_UP)
    if code == 154:
        verdict = text.rsplit(" to ", 1)[-1] if " to " in text else ""
        for pattern, action in _RECOVERY:
            if pattern.search(verdict):
                return XidInfo(code, f"{info.name}: {verdict.strip(' .')}", action)
    return info


def classify_sxid(fatal: bool | None) -> XidAction:
    """An NVSwitch SXid: fatal ones need the node rebooted (the NVSwitches reset with it);
    non-fatal ones are corrected and watched. A line that states no severity is taken as
    fatal: the safe side."""
    return XidAction.WATCH if fatal is False else XidAction.REBOOT
