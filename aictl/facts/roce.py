"""A RoCE host's NIC state, per rail netdev: the counters that show a lossless fabric going
wrong (pause frames per priority, discards, out-of-buffer, CNPs) and the QoS the NIC actually
runs (trust mode, PFC priorities, ECN), read back to compare with what aictl rendered.

Preflight gathers, per netdev, a `## netdev <name>` line, `ethtool -S <name>` (filtered to
pause, discard, buffer and CNP counters), `mlnx_qos -i <name>` and the ECN switches
(`grep -H . /sys/class/net/<name>/ecn/roce_{np,rp}/enable/*`), then the HCAs' hw_counters
(`.../infiniband/<dev>/ports/1/hw_counters/{np_cnp_sent,rp_cnp_handled,out_of_buffer...}`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aictl.facts.model import Parsed, head
from aictl.facts.text import is_simulated, lines_of

_NETDEV = re.compile(r"^## netdev (\S+)")
_STAT = re.compile(r"^\s+(\w+):\s+(\d+)\s*$")
_ECN = re.compile(r"/class/net/([^/]+)/ecn/(roce_np|roce_rp)/enable/(\d):\s*(\d)")
_HW = re.compile(r"/class/infiniband/([^/]+)/ports/\d+/hw_counters/(\w+):\s*(\d+)")


@dataclass(frozen=True, slots=True)
class RoceNic:
    """One rail netdev: its counters, and the QoS it runs."""

    netdev: str
    counters: dict[str, int] = field(default_factory=dict)
    trust: str | None = None  # Priority trust state: pcp | dscp
    pfc: tuple[int, ...] | None = None  # priorities with PFC enabled
    ecn_np: tuple[int, ...] = ()  # priorities with ECN on as notification point
    ecn_rp: tuple[int, ...] = ()  # ... and as reaction point
    qos_error: str | None = None  # what mlnx_qos said instead of its table


@dataclass(frozen=True, kw_only=True)
class RoceState(Parsed):
    """Every rail netdev, and each RDMA device's hw_counters."""

    nics: tuple[RoceNic, ...] = ()
    hw_counters: dict[str, dict[str, int]] = field(default_factory=dict)


def parse_roce(text: str) -> RoceState:
    """The RoCE section of preflight -> per netdev counters, trust, PFC and ECN."""
    nics: dict[str, dict[str, object]] = {}
    hw: dict[str, dict[str, int]] = {}
    cur: dict[str, object] | None = None
    pfc_next = False
    for ln in lines_of(text):
        m = _NETDEV.match(ln)
        if m:
            cur = nics.setdefault(m.group(1), {"counters": {}, "np": [], "rp": []})
            continue
        m = _HW.search(ln)
        if m:
            hw.setdefault(m.group(1), {})[m.group(2)] = int(m.group(3))
            continue
        m = _ECN.search(ln)
        if m and m.group(1) in nics:
            if m.group(4) == "1":
                key = "np" if m.group(2) == "roce_np" else "rp"
                lst = nics[m.group(1)][key]
                assert isinstance(lst, list)
                lst.append(int(m.group(3)))
            continue
        if cur is None:
            continue
        s = ln.strip()
        if s.startswith("Priority trust state:"):
            cur["trust"] = s.split(":", 1)[1].strip()
        elif s.startswith("priority") and s.split()[1:] == [str(i) for i in range(8)]:
            pfc_next = True
            continue
        elif pfc_next and s.startswith("enabled"):
            flags = s.split()[1:]
            cur["pfc"] = tuple(i for i, v in enumerate(flags) if v == "1")
        elif re.match(r"^(mlnx_qos|Netlink error|-bash|bash|sh):", s) or "command not found" in s:
            cur["qos_error"] = s[:160]
        else:
            st = _STAT.match(ln)
            if st:
                counters = cur["counters"]
                assert isinstance(counters, dict)
                counters[st.group(1)] = int(st.group(2))
        pfc_next = False
    out = []
    for name, d in nics.items():
        counters = d["counters"]
        assert isinstance(counters, dict)
        trust, pfc, err = d.get("trust"), d.get("pfc"), d.get("qos_error")
        np_, rp = d["np"], d["rp"]
        assert isinstance(np_, list) and isinstance(rp, list)
        out.append(
            RoceNic(
                name,
                dict(sorted(counters.items())),
                str(trust) if trust else None,
                pfc if isinstance(pfc, tuple) else None,
                tuple(sorted(np_)),
                tuple(sorted(rp)),
                str(err) if err else None,
            )
        )
    return RoceState(
        **head("roce", is_simulated(text), [], empty=not out),
        nics=tuple(out),
        hw_counters={k: dict(sorted(v.items())) for k, v in sorted(hw.items())},
    )
