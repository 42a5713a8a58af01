"""InfiniBand port counters for the whole fabric, each bad port mapped to the plan's cable.

`ibqueryerrors` on a host of the fabric reads every port's error counters through the subnet
manager (it lists the ports with a non-zero counter). Once, it shows the counters since they
were last cleared; with a window, aictl reads a baseline, waits (traffic can run meanwhile),
reads again and judges the increase, so old errors of a cable already replaced do not count.
Counters are never cleared by aictl: UFM or another monitor may keep its own baseline.

Thresholds are per counter, for the read (or the window): `warn_at` and `fail_at`. A port over
one becomes a finding on the planned cable it belongs to (id, both ends, the node's rack) with
the fix in installer words. `LinkDownedCounter` is a link flap: a finding of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aictl.errors import RemoteError
from aictl.fabric import Finding
from aictl.facts.ibcounters import IbCounters, norm_guid, parse_ibqueryerrors
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from collections.abc import Callable

    from aictl.remote import Target
    from aictl.remote.executor import Executor
    from aictl.topology.model import Cable, Topology


@dataclass(frozen=True, slots=True)
class Threshold:
    """When a counter's count (in the read or the window) warns and fails (None: never)."""

    warn_at: int | None
    fail_at: int | None
    means: str


THRESHOLDS: dict[str, Threshold] = {
    "SymbolErrorCounter": Threshold(1, 10, "bit errors on the wire"),
    "LinkErrorRecoveryCounter": Threshold(1, 3, "link retrained"),
    "LinkDownedCounter": Threshold(None, 1, "link went down"),
    "PortRcvErrors": Threshold(1, 10, "bad packets received"),
    "PortRcvRemotePhysicalErrors": Threshold(1, 10, "packets marked bad upstream"),
    "LocalLinkIntegrityErrors": Threshold(1, 3, "link integrity lost"),
    "ExcessiveBufferOverrunErrors": Threshold(1, 3, "receive buffer overruns"),
    "PortXmitDiscards": Threshold(1, 100, "packets discarded on transmit"),
    "PortRcvSwitchRelayErrors": Threshold(100, None, "packets the switch could not relay"),
    "PortXmitConstraintErrors": Threshold(1, None, "partition/filter drops on transmit"),
    "PortRcvConstraintErrors": Threshold(1, None, "partition/filter drops on receive"),
    "VL15Dropped": Threshold(100, None, "subnet management packets dropped"),
}
FLAP = "LinkDownedCounter"
# 16- and 8-bit counters stop at their maximum: the count is then "at least"
_SATURATED = {65535, 255}
READ = "ibqueryerrors 2>&1; true"

Port = tuple[str, int]  # (planned device name, port)


def read(host: Target, executor: Executor) -> IbCounters:
    """ibqueryerrors on a host of the fabric."""
    res = executor.run(host, READ)
    if res.rc is None:
        raise RemoteError(
            f"{host.name}: {res.error}", hint="--counters needs SSH to a host on the fabric"
        )
    return parse_ibqueryerrors(res.stdout)


def gather(
    host: Target,
    executor: Executor,
    window_s: float,
    *,
    sleep: Callable[[float], None] | None = None,
) -> tuple[IbCounters, IbCounters | None]:
    """A read, and with a window a second read `window_s` later."""
    import time

    first = read(host, executor)
    if window_s <= 0:
        return first, None
    (sleep or time.sleep)(window_s)
    return first, read(host, executor)


def _cables(topo: Topology) -> dict[Port, Cable]:
    """Both ends of every compute-fabric cable -> the cable."""
    out: dict[Port, Cable] = {}
    for c in topo.cables:
        if c.tier == "node-leaf":
            out[(f"{c.a_device} {c.a_port.split('/')[0]}", 1)] = c
        elif c.a_port.isdigit():
            out[(c.a_device, int(c.a_port))] = c
        else:
            continue
        if c.b_port.isdigit():
            out[(c.b_device, int(c.b_port))] = c
    return out


def _names(topo: Topology, plane: int) -> dict[str, str]:
    from aictl.topology.exports.ibnet import planned_guids

    if topo.spec.subnet_manager.guids != "planned":
        return {}
    return {norm_guid(f"0x{g}"): n for g, n in planned_guids(topo, plane).items()}


def _deltas(
    first: IbCounters, second: IbCounters | None
) -> dict[tuple[str, str, int], dict[str, int]]:
    """(guid, description, port) -> counter -> count in the read (or increase in the window)."""
    base = {(p.guid, p.port): p.counters for p in first.ports}
    now = second if second is not None else first
    out = {}
    for p in now.ports:
        before = base.get((p.guid, p.port), {}) if second is not None else {}
        # a counter below its baseline was cleared meanwhile: what it shows is new
        inc = {
            k: v - before.get(k, 0) if v >= before.get(k, 0) else v for k, v in p.counters.items()
        }
        inc = {k: v for k, v in inc.items() if v > 0}
        if inc:
            out[(p.guid, p.description, p.port)] = inc
    return out


def _judge(counts: dict[str, int]) -> tuple[str | None, list[str]]:
    """The worst level over a port's counters ("error", "warning" or None) and the words."""
    level, words = None, []
    for name, n in sorted(counts.items()):
        t = THRESHOLDS.get(name)
        if t is None or name == FLAP:
            continue
        sat = "+" if n in _SATURATED else ""
        if t.fail_at is not None and n >= t.fail_at:
            level = "error"
            words.append(f"{name} {n}{sat} ({t.means})")
        elif t.warn_at is not None and n >= t.warn_at:
            level = level or "warning"
            words.append(f"{name} {n}{sat} ({t.means})")
    return level, words


def _where(c: Cable, topo: Topology) -> tuple[str, str]:
    """`C nl-023 leaf-su01-r1 port 2 - node02 mlx5_1 (rack01)`, and the ends for the fix."""
    a = f"{c.a_device} {c.a_port}" if c.tier == "node-leaf" else f"{c.a_device} port {c.a_port}"
    b = f"{c.b_device} port {c.b_port}"
    rack = topo.node(c.a_device).rack if topo.has_node(c.a_device) else ""
    return f"{b} - {a}" + (f" ({rack})" if rack else ""), f"{b} and {a}"


def check_counters(
    topo: Topology,
    first: IbCounters,
    second: IbCounters | None = None,
    *,
    window_s: float = 0,
    names: dict[str, str] | None = None,
    plane: int = 0,
) -> dict[str, Any]:
    """The `counters` part of verify.json: every port over a threshold, on its cable."""
    cables = _cables(topo)
    by_guid = {**_names(topo, plane), **{norm_guid(g): n for g, n in (names or {}).items()}}
    per_cable: dict[str, dict[str, Any]] = {}
    unplanned: list[Finding] = []
    for (guid, desc, port), counts in sorted(_deltas(first, second).items()):
        name = by_guid.get(guid) or desc
        cable = cables.get((name, port))
        if cable is None:
            level, words = _judge(counts)
            if level or FLAP in counts:
                unplanned.append(
                    Finding(
                        "link-errors",
                        f"{name} port {port}",
                        f"{', '.join(words) or f'{FLAP} {counts[FLAP]}'} on a port the plan "
                        "has no cable for",
                        "find the cable in this port (ibnetdiscover) and check it",
                        severity=level or "error",
                        detail={"guid": guid, "port": port, "counters": counts},
                    )
                )
            continue
        entry = per_cable.setdefault(cable.id, {"cable": cable, "ends": {}})
        entry["ends"][f"{name} port {port}"] = counts
    findings: list[Finding] = []
    for cid in sorted(per_cable, key=natural_key):
        cable, ends = per_cable[cid]["cable"], per_cable[cid]["ends"]
        where, between = _where(cable, topo)
        merged: dict[str, int] = {}
        for counts in ends.values():
            for k, v in counts.items():
                merged[k] = max(merged.get(k, 0), v)
        level, words = _judge(merged)
        detail = {"cable": cid, "ends": ends, "window_s": window_s}
        span = f"in {window_s:g} s" if window_s else "since the counters were cleared"
        if FLAP in merged:
            findings.append(
                Finding(
                    "link-flap",
                    f"cable {cid} {where}",
                    f"the link went down {merged[FLAP]} time(s) {span}",
                    f"reseat cable {cid} between {between}; replace it (or its transceivers) "
                    "if it flaps again",
                    detail=detail,
                )
            )
        if level:
            findings.append(
                Finding(
                    "link-errors",
                    f"cable {cid} {where}",
                    f"{'; '.join(words)} {span}",
                    f"reseat or replace cable {cid} between {between} (clean the connectors; "
                    "a cable that errs again after a reseat is replaced)",
                    severity=level,
                    detail=detail,
                )
            )
    findings += unplanned
    return {
        "window_s": window_s,
        "ports_checked": (second or first).ports_checked,
        "ports_reporting": len((second or first).ports),
        "thresholds": {k: [t.warn_at, t.fail_at] for k, t in sorted(THRESHOLDS.items())},
        "warnings": list((second or first).warnings),
        "findings": [f.as_dict() for f in findings],
    }
