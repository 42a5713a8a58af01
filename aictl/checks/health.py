"""Day-2 rules: the faults that stop training jobs, judged on a node's logs and counters.

Each rule takes the node's profile and facts and returns a `Verdict` (status, message, fix);
rules.py names them as checks (`xid`, `throttle`, `aer`, `nvlink-errors`, `dcgm`) and calls
`gpu_state` and `fabric_runtime` from its `gpu` and `fabricmanager` checks. This module does
not import rules.py (rules.py imports it), so it reads facts through the `NodeFacts` protocol.

Thresholds, where the tools count since boot or driver load:
- Xid / SXid: the catalogue's action (facts/xid.py) decides: a hardware action fails the node,
  an application fault or a corrected error warns.
- throttle: HW Slowdown, HW Thermal Slowdown and HW Power Brake Slowdown fail (the board's
  protection halves the clocks or more); SW Thermal Slowdown warns; SW Power Cap is a GPU at
  its power limit under load, normal, and only named.
- AER: any fatal or non-fatal uncorrectable error fails; 100 or more correctable errors on one
  device warn (replays cost bandwidth).
- NVLink: a recovery (the link retrained) fails; CRC errors warn from 1 and fail from 100;
  replays warn.
- RoCE: the NIC's QoS must be what aictl renders (trust dscp, PFC on the RoCE priority only,
  ECN on it as notification and reaction point); pause frames on any other priority fail
  (PFC is configured wrong somewhere on the path); 1000 or more discards or out-of-buffer
  drops on a rail warn (a host or a switch port that cannot keep up).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol, TypeVar

from aictl.facts import aer as aer_facts
from aictl.facts import amd as amd_facts
from aictl.facts import ascend as ascend_facts
from aictl.facts import dcgm as dcgm_facts
from aictl.facts import fmlog, kernel
from aictl.facts import gpu as gpu_facts
from aictl.facts import host as host_facts
from aictl.facts import roce as roce_facts
from aictl.facts.model import Parsed
from aictl.facts.xid import FAILS, FIX, XidAction
from aictl.status import Status

if TYPE_CHECKING:
    from aictl.topology.profiles import Profile

P = TypeVar("P", bound=Parsed)
Verdict = tuple[Status, str, str]

# NVSwitch chips on an 8-GPU HGX baseboard, by GPU generation
NVSWITCHES = {"A100": 6, "A800": 6, "H100": 4, "H800": 4, "H200": 4, "H20": 4, "B200": 2}
HW_THROTTLE = ("HW Slowdown", "HW Thermal Slowdown", "HW Power Brake Slowdown")
SW_THROTTLE = ("SW Thermal Slowdown",)
AER_CORRECTABLE_WARN = 100
NVLINK_CRC_FAIL = 100


class Facts(Protocol):
    """What a rule reads: a fact by name with its type (rules.NodeFacts)."""

    @property
    def by_name(self) -> dict[str, Parsed]: ...

    def get(self, name: str, kind: type[P]) -> P | None: ...


def _readable(f: Facts, name: str, kind: type[P]) -> P | Verdict:
    got = f.by_name.get(name)
    if isinstance(got, kind) and got.ok:
        return got
    why = got.failure.message if got is not None and got.failure else "no output"
    return Status.FAIL, f"cannot read {name}: {why}", ""


def _bus(addr: str) -> str:
    """A PCI address down to bus:device (`00000000:19:00.0`, `0000:19:00` -> `19:00`)."""
    parts = addr.lower().split(":")
    return ":".join(parts[-2:]).split(".")[0] if len(parts) >= 2 else addr.lower()


def _gpu_names(f: Facts) -> dict[str, str]:
    """Accelerators by PCI bus:device, from whichever vendor's inventory the node gathered
    (nvidia-smi -q, amd-smi, npu-smi info)."""
    smi = f.get("nvidia-smi-q", gpu_facts.SmiQuery)
    out = {_bus(g.bus_id): f"GPU{g.index}" for g in (smi.gpus if smi else ())}
    amd = f.get("amd-smi", amd_facts.AmdSmiTable)
    out.update({_bus(g.bdf): f"GPU{g.index}" for g in (amd.gpus if amd else ())})
    npu = f.get("npu-smi", ascend_facts.NpuSmiInfo)
    out.update({_bus(c.bus_id): f"NPU{c.npu}" for c in (npu.chips if npu else ()) if c.bus_id})
    return out


# ---- gpu: what the count does not show ---------------------------------------------------
def gpu_state(p: Profile, f: Facts) -> Verdict | None:
    """NVSwitches fewer than the baseboard has, GPUs asking for a reset or drain, fields the
    driver cannot read (nvidia-smi's ERR!). None when all is well."""
    smi = f.get("nvidia-smi-q", gpu_facts.SmiQuery)
    bad = []
    for g in smi.gpus if smi else ():
        tag = f"GPU{g.index} ({g.bus_id})"
        if g.unreadable:
            bad.append(f"{tag} unreadable: {', '.join(g.unreadable[:3])}")
        if g.reset_required or g.drain_reset:
            bad.append(f"{tag} the driver asks for a {'drain and ' if g.drain_reset else ''}reset")
        if g.recovery_action:
            bad.append(f"{tag} recovery action {g.recovery_action}")
    lspci = f.get("lspci", host_facts.PciDevices)
    want = next((n for m, n in NVSWITCHES.items() if m in p.gpu.model.upper()), None)
    if p.gpu.nvswitch and want and p.gpu.count == 8 and lspci is not None and lspci.ok:
        seen = sum(1 for d in lspci.devices if d.cls == "Bridge" and "NVIDIA" in d.description)
        if seen < want:
            bad.append(f"{seen} of {want} NVSwitches on the PCIe bus")
    if not bad:
        return None
    return (
        Status.FAIL,
        "; ".join(bad),
        "drain the node; reset the GPUs (nvidia-smi -r) or reboot; a device still missing or "
        "unreadable after a reboot is a reseat or RMA (nvidia-bug-report.sh)",
    )


# ---- fabric manager: the service running is not enough -----------------------------------
def fabric_runtime(p: Profile, f: Facts) -> Verdict | None:
    """The GPUs' fabric health and the fabric manager log's errors (NVSwitch systems)."""
    smi = f.get("nvidia-smi-q", gpu_facts.SmiQuery)
    unhealthy = [
        f"GPU{g.index}" for g in (smi.gpus if smi else ()) if g.fabric_health == "Unhealthy"
    ]
    if unhealthy:
        return (
            Status.FAIL,
            f"fabric health Unhealthy on {', '.join(unhealthy)}",
            "restart nvidia-fabricmanager; if it stays, reset the NVSwitch tray (reboot)",
        )
    log = f.get("fabricmanager-log", fmlog.FabricManagerLog)
    if log is None or not log.ok:
        return None  # no log to read (a container, a custom path): the state above decides
    fatal = [e for e in log.errors_seen if e.fatal]
    other = [e for e in log.errors_seen if not e.fatal]
    if fatal:
        e = fatal[-1]
        return (
            Status.FAIL,
            f"fabric manager log: {len(fatal)} fatal error(s), last [{e.time}] {e.message}",
            "drain the node and reboot it (resets the NVSwitches); RMA the baseboard if the "
            "same switch reports again",
        )
    if other:
        e = other[-1]
        return (
            Status.WARN,
            f"fabric manager log: {len(other)} error(s), last [{e.time}] {e.message}",
            "",
        )
    return None


# ---- xid -----------------------------------------------------------------------------------
def xid(p: Profile, f: Facts) -> Verdict:
    log = _readable(f, "kernel-log", kernel.KernelLog)
    if isinstance(log, tuple):
        return log
    names = _gpu_names(f)
    live = [e for e in log.events if e.count and e.action is not XidAction.IGNORE]
    window = f"in the last {log.window_s // 3600} h" if log.window_s else "in the log"
    if not live:
        return Status.OK, f"no Xid or SXid {window}", ""
    order = list(XidAction)
    live.sort(key=lambda e: -order.index(e.action))
    parts = []
    for e in live:
        dev = names.get(_bus(e.device), e.device) if e.kind == "xid" else f"NVSwitch {e.device}"
        kind = "Xid" if e.kind == "xid" else "SXid"
        parts.append(f"{dev} {kind} {e.code} ({e.name}) x{e.count}, last {e.last or '?'}")
    worst = live[0].action
    status = Status.FAIL if worst in FAILS else Status.WARN
    return status, "; ".join(parts) + f" ({window})", FIX.get(worst, "")


# ---- throttle ------------------------------------------------------------------------------
def throttle(p: Profile, f: Facts) -> Verdict:
    smi = _readable(f, "nvidia-smi-q", gpu_facts.SmiQuery)
    if isinstance(smi, tuple):
        return smi
    hw, sw, capped = [], [], []
    for g in smi.gpus:
        if any(r in HW_THROTTLE for r in g.clock_events):
            hw.append(f"GPU{g.index} {', '.join(r for r in g.clock_events if r in HW_THROTTLE)}")
        elif any(r in SW_THROTTLE for r in g.clock_events):
            sw.append(f"GPU{g.index} SW Thermal Slowdown")
        if "SW Power Cap" in g.clock_events:
            capped.append(f"GPU{g.index}")
    note = f" (at the power cap: {', '.join(capped)})" if capped else ""
    if hw:
        return (
            Status.FAIL,
            "; ".join(hw) + note,
            "hardware slowdown: check the chassis airflow and fans, the PSUs and the power "
            "brake signal (BMC SEL); drain the node until the reason clears",
        )
    if sw:
        return Status.WARN, "; ".join(sw) + note, "the GPU runs hot: check airflow and inlet temp"
    return Status.OK, "no clock slowdown" + note, ""


# ---- aer -----------------------------------------------------------------------------------
def aer(p: Profile, f: Facts) -> Verdict:
    got = f.get("aer", aer_facts.AerCounters)
    if got is not None and not got.devices and not got.unparsed:
        return Status.SKIP, "no AER counters exposed (kernel before 4.19, or AER off)", ""
    counters = _readable(f, "aer", aer_facts.AerCounters)
    if isinstance(counters, tuple):
        return counters
    names = _gpu_names(f)
    lspci = f.get("lspci", host_facts.PciDevices)
    nics = {_bus(d.bdf) for d in (lspci.devices if lspci else ()) if d.is_rdma_nic}

    def name(bdf: str) -> str:
        b = _bus(bdf)
        return f"{names[b]} {bdf}" if b in names else (f"NIC {bdf}" if b in nics else bdf)

    bad = [
        f"{name(d.bdf)} {d.fatal} fatal, {d.nonfatal} non-fatal"
        for d in counters.devices
        if d.fatal or d.nonfatal
    ]
    noisy = [
        f"{name(d.bdf)} {d.correctable} correctable"
        for d in counters.devices
        if d.correctable >= AER_CORRECTABLE_WARN
    ]
    if bad:
        return (
            Status.FAIL,
            "; ".join(bad + noisy),
            "uncorrectable PCIe errors: drain the node, reseat the card and its riser or "
            "retimer, check the slot's BIOS settings; RMA if they return",
        )
    if noisy:
        return (
            Status.WARN,
            "; ".join(noisy),
            "a marginal PCIe link: reseat the card or riser at the next maintenance",
        )
    return Status.OK, f"no uncorrectable errors on {len(counters.devices)} devices", ""


# ---- nvlink error counters ----------------------------------------------------------------
def nvlink_errors(p: Profile, f: Facts) -> Verdict:
    if not p.gpu.nvswitch and not p.gpu.nvlink_gbytes:
        return Status.SKIP, "no NVLink", ""
    nv = _readable(f, "nvlink-errors", gpu_facts.NvlinkErrorCounters)
    if isinstance(nv, tuple):
        return nv
    fail, warn = [], []
    for g in nv.gpus:
        t = g.totals
        recovery = sum(v for k, v in t.items() if "Recovery" in k)
        crc = sum(v for k, v in t.items() if "CRC" in k)
        replay = sum(v for k, v in t.items() if "Replay" in k)
        links = ",".join(str(x) for x in g.links)
        what = [
            f"{n} {k}" for n, k in ((recovery, "recovery"), (crc, "CRC"), (replay, "replay")) if n
        ]
        line = f"GPU{g.index} links {links}: {', '.join(what)}"
        if recovery or crc >= NVLINK_CRC_FAIL:
            fail.append(line)
        elif crc or replay:
            warn.append(line)
    if fail:
        return (
            Status.FAIL,
            "; ".join(fail + warn),
            "drain the node, reset the GPUs/NVSwitch tray (reboot), then dcgmi diag -r 2; "
            "RMA the baseboard if the same links count again",
        )
    if warn:
        return Status.WARN, "; ".join(warn), "watch the counters; reset at the next drain"
    return Status.OK, f"no NVLink errors on {len(nv.gpus)} GPUs", ""


# ---- dcgm ----------------------------------------------------------------------------------
def dcgm(p: Profile, f: Facts) -> Verdict:
    got = f.by_name.get("dcgm")
    if got is None:
        return Status.SKIP, "not run (aictl check --dcgm 1|2|3 runs it)", ""
    if isinstance(got, dcgm_facts.DcgmDiag) and not got.installed:
        return Status.SKIP, "DCGM is not installed: no diagnostics run (not a pass)", ""
    diag = _readable(f, "dcgm", dcgm_facts.DcgmDiag)
    if isinstance(diag, tuple):
        return diag
    names = [t.name for t in diag.tests]
    if diag.failed:
        parts = []
        for t in diag.failed:
            gpus = [g for g, s in sorted(t.gpus.items()) if s == "fail"]
            who = f" on GPU {','.join(gpus)}" if gpus else " (no GPU blamed)"
            parts.append(f"{t.name}{who}" + (f": {t.warnings[0][:160]}" if t.warnings else ""))
        return (
            Status.FAIL,
            "; ".join(parts),
            "drain the node; a test blaming a GPU: reset it and rerun dcgmi diag -r 3, RMA on "
            "a second failure; no GPU blamed: check DCGM's own logs and rerun",
        )
    warned = [t.name for t in diag.tests if t.status == "warn"]
    if warned:
        return Status.WARN, f"warnings in {', '.join(warned)}", ""
    return Status.OK, f"{len(names)} tests pass (DCGM {diag.version or '?'})", ""


# ---- RoCE ----------------------------------------------------------------------------------
ROCE_DROPS_WARN = 1000
_PAUSE = re.compile(r"^(rx|tx)_prio(\d)_pause$")


def roce(p: Profile, f: Facts) -> Verdict:
    if p.link_layer != "Ethernet":
        return Status.SKIP, "InfiniBand rails", ""
    from aictl.topology import qos

    state = _readable(f, "roce", roce_facts.RoceState)
    if isinstance(state, tuple):
        return state
    seen = {n.netdev: n for n in state.nics}
    bad, warn = [], []
    for rail in p.rails:
        nic = seen.get(rail.netdev)
        if nic is None:
            bad.append(f"{rail.netdev}: not read")
            continue
        if nic.qos_error or nic.trust is None:
            bad.append(f"{rail.netdev}: QoS not readable ({nic.qos_error or 'no mlnx_qos table'})")
        else:
            if nic.trust != "dscp":
                bad.append(f"{rail.netdev}: trust {nic.trust} (rendered dscp)")
            if nic.pfc != (qos.ROCE_PRIORITY,):
                got = ",".join(map(str, nic.pfc or ())) or "none"
                bad.append(f"{rail.netdev}: PFC on {got} (rendered {qos.ROCE_PRIORITY})")
        for point, have in (("np", nic.ecn_np), ("rp", nic.ecn_rp)):
            if qos.ROCE_PRIORITY not in have:
                bad.append(f"{rail.netdev}: ECN off for priority {qos.ROCE_PRIORITY} ({point})")
        for name, n in nic.counters.items():
            m = _PAUSE.match(name)
            if m and n and int(m.group(2)) != qos.ROCE_PRIORITY:
                bad.append(
                    f"{rail.netdev}: {n} pause frames on priority {m.group(2)} ({m.group(1)})"
                )
        drops = {
            k: v for k, v in nic.counters.items() if ("discard" in k or "out_of_buffer" in k) and v
        }
        hw = state.hw_counters.get(rail.rdma_device, {})
        if hw.get("out_of_buffer"):
            drops["out_of_buffer"] = hw["out_of_buffer"]
        big = {k: v for k, v in drops.items() if v >= ROCE_DROPS_WARN}
        if big:
            warn.append(f"{rail.netdev}: " + ", ".join(f"{k} {v}" for k, v in sorted(big.items())))
    if bad:
        return (
            Status.FAIL,
            "; ".join(bad + warn),
            "re-apply the rendered host QoS (aictl provision --tags network: mlnx_qos trust "
            "dscp, PFC on the RoCE priority, ECN); pause on another priority: check the switch "
            "ports' PFC and DSCP maps (the rendered nvue.txt)",
        )
    if warn:
        return (
            Status.WARN,
            "; ".join(warn),
            "drops under load: check the switch port's buffers and ECN marking, and the host's "
            "receive queues",
        )
    ok = f"{len(p.rails)} rails: QoS as rendered, no pause off priority {qos.ROCE_PRIORITY}"
    # CNPs are congestion control at work, not a fault: counted, shown, not judged
    devs = [state.hw_counters.get(r.rdma_device, {}) for r in p.rails]
    sent, handled = (sum(d.get(k, 0) for d in devs) for k in ("np_cnp_sent", "rp_cnp_handled"))
    if sent or handled:
        ok += f"; CNP sent {sent}, handled {handled}"
    return Status.OK, ok, ""
