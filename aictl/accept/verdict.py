"""From a run's results to its verdict: small criterion functions over typed results, each
adding its criteria and the suspects it finds (node and rail, or the link), then a few rules
that fold the suspects into what an operator should look at first.

Every node is judged by its own node group's numbers; a test over several groups by the
weaker side, which its criterion says. A cluster of several collective domains (fabrics or
vendors: no collective spans two) gets each domain's collectives as criteria of their own and
a verdict per domain; the cluster's verdict is their conjunction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from aictl.accept import localize
from aictl.accept.model import (
    Criterion,
    DomainVerdict,
    Judgement,
    Kind,
    Measure,
    Stage,
    Suspect,
    SuspectKind,
    UnitResult,
    Verdict,
)
from aictl.natsort import natural_key
from aictl.status import Status
from aictl.topology.vendors import vendor

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from aictl.accept.expect import Expectations
    from aictl.accept.model import RunPlan


def _bytes(n: int) -> str:
    for unit, div in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} bytes"


def _status(ok: bool | None) -> Status:
    return Status.SKIP if ok is None else Status.OK if ok else Status.FAIL


@dataclass
class Evidence:
    """What the criteria read, and the suspects they name (first reason per node and rail)."""

    plan: RunPlan
    results: list[UnitResult]
    expect: Expectations
    leaf_of: dict[tuple[str, int], str]
    by_id: dict[str, UnitResult] = field(default_factory=dict)
    suspects: dict[tuple[str, int | None], Suspect] = field(default_factory=dict)
    low: dict[str, localize.Low] = field(default_factory=dict)
    dead: list[str] = field(default_factory=list)

    def name(self, s: Suspect) -> None:
        self.suspects.setdefault((s.where, s.rail), s)

    def of(self, stage: Stage, kind: Kind) -> list[UnitResult]:
        return [r for r in self.results if r.stage is stage and r.kind is kind]

    def per_group(
        self,
        key: str,
        value: Callable[[str], float | None],
        units: Iterable[UnitResult] | None = None,
    ) -> Measure:
        """`{key: v}` for one group, `{key (group): v, ...}` for several (the groups of
        `units` when given: a test some vendors do not run has no floor for them)."""
        groups = sorted(self.expect.groups)
        if units is not None:
            ran = {g for r in units for g in self.expect.groups_of(r.hosts)}
            groups = [g for g in groups if g in ran] or groups
        if len(groups) == 1:
            return {key: value(groups[0])}
        return {f"{key} ({g})": value(g) for g in groups}

    def one_of(self, group: str) -> str:
        return next(h for h, g in self.expect.node_group.items() if g == group)


def reachability(ev: Evidence) -> list[Criterion]:
    """Nodes lost during the run are suspects of their own."""
    ev.dead = sorted(
        {r.lost_host for r in ev.results if r.status is Status.ERROR and r.lost_host},
        key=natural_key,
    )
    for h in ev.dead:
        ev.name(
            Suspect(
                SuspectKind.UNREACHABLE,
                "unreachable during the run (its remaining tests were skipped)",
                node=h,
            )
        )
    return []


def gdr_per_rail(ev: Evidence) -> list[Criterion]:
    """GPUDirect loopback per node and rail, against the node's own NIC rate."""
    units = ev.of(Stage.NODE, Kind.GDR)
    host_bw = {(r.hosts[0], r.rail): r.value for r in ev.of(Stage.NODE, Kind.HOST) if r.value}
    bad = []
    for r in sorted(units, key=lambda r: (natural_key(r.hosts[0]), r.rail or 0)):
        h, rail = r.hosts[0], r.rail
        if r.status is Status.SKIP:
            continue
        floor = ev.expect.gdr_min_gbps([h])
        if r.value is None:
            bad.append(r.id)
            msg = r.failure.message if r.failure else "failed"
            hint = vendor(ev.expect.vendor_of(h)).gdr_hint
            ev.name(
                Suspect(
                    SuspectKind.GDR_UNAVAILABLE,
                    f"GPUDirect RDMA unavailable on {h} rail {rail}: {msg} ({hint})",
                    node=h,
                    rail=rail,
                    measured=Kind.GDR,
                )
            )
        elif r.value < floor:
            bad.append(r.id)
            g = ev.expect.group_of(h)
            hb = host_bw.get((h, rail))
            extra = f"; from host memory {hb:.1f} Gb/s" if hb else ""
            ev.name(
                Suspect(
                    SuspectKind.GDR_LOW,
                    f"GPUDirect ib_write_bw {r.value:.1f} Gb/s < {floor:g} Gb/s "
                    f"({ev.expect.gdr_min_fraction:.0%} of {g.link_gbps} Gb/s){extra}",
                    node=h,
                    rail=rail,
                    measured=Kind.GDR,
                )
            )
    values = [r.value for r in units if r.value is not None]
    return [
        Criterion(
            "gdr_per_rail",
            "GPUDirect ib_write_bw per node and rail, GPU nearest the NIC (loopback)",
            _status(not bad if units else None),
            {"min": min(values, default=None), "units": len(units)},
            ev.per_group("min_gbps", lambda g: ev.expect.gdr_min_gbps([ev.one_of(g)]), units),
            failing=tuple(bad),
        )
    ]


def gdr_vs_host_memory(ev: Evidence) -> list[Criterion]:
    """GPUDirect against the same NIC from host memory: the GPU path costs little."""
    host_bw = {(r.hosts[0], r.rail): r.value for r in ev.of(Stage.NODE, Kind.HOST) if r.value}
    ratios = [
        r.value / hb
        for r in ev.of(Stage.NODE, Kind.GDR)
        if r.value and (hb := host_bw.get((r.hosts[0], r.rail)))
    ]
    frac = ev.expect.gdr_min_fraction
    return [
        Criterion(
            "gdr_vs_host_memory",
            "GPUDirect bandwidth against the same NIC from host memory",
            _status((min(ratios) >= frac) if ratios else None),
            {"min_ratio": round(min(ratios), 3) if ratios else None},
            {"min_ratio": frac},
        )
    ]


def nccl_single_node(ev: Evidence) -> list[Criterion]:
    """all_reduce inside each node, against its group's NVLink and its group's median."""
    units = [r for r in ev.of(Stage.NODE, Kind.NCCL) if r.status is not Status.SKIP]
    bad = []
    for r in units:
        h = r.hosts[0]
        floor = ev.expect.busbw_min("all_reduce", [h])
        if r.value is None:
            bad.append(r.id)
            kind = r.failure.kind if r.failure else "failure"
            msg = r.failure.message if r.failure else ""
            ev.name(
                Suspect(
                    SuspectKind.NODE_NCCL,
                    f"single-node all_reduce {kind}: {msg}",
                    node=h,
                    measured=Kind.NCCL,
                )
            )
        elif floor is not None and r.value < floor:
            bad.append(r.id)
            label = vendor(ev.expect.vendor_of(h)).scale_up_label
            ev.name(
                Suspect(
                    SuspectKind.NODE_NCCL,
                    f"single-node all_reduce busbw {r.value:.1f} GB/s < {floor:g} GB/s ({label})",
                    node=h,
                    measured=Kind.NCCL,
                )
            )
    tol = ev.expect.fleet_tolerance
    for group in sorted(ev.expect.groups):
        vals = {
            r.hosts[0]: r.value
            for r in units
            if r.value and ev.expect.node_group[r.hosts[0]] == group
        }
        for h in sorted(localize.low_values(vals, tolerance=tol, floor=None), key=natural_key):
            bad.append(f"node/{h}/nccl/all_reduce")
            ev.name(
                Suspect(
                    SuspectKind.NODE_NCCL,
                    f"single-node all_reduce busbw {vals[h]:.1f} GB/s is more than {tol:.0%} "
                    f"below the median of its node group ({group})",
                    node=h,
                    measured=Kind.NCCL,
                )
            )
    floors = {g: ev.expect.busbw_min("all_reduce", [ev.one_of(g)]) for g in ev.expect.groups}
    judged = units and all(f is not None for f in floors.values())
    ok: bool | None = (not bad) if judged else (None if not bad else False)
    values = [r.value for r in units if r.value]
    labels = sorted({vendor(g.vendor).scale_up_label for g in ev.expect.groups.values()})
    return [
        Criterion(
            "nccl_single_node",
            f"all_reduce inside each node ({', '.join(labels)})",
            _status(ok),
            {"min": min(values, default=None)},
            ev.per_group("min_busbw", lambda g: floors[g], units),
            failing=tuple(sorted(set(bad))),
        )
    ]


def pairwise_tests(ev: Evidence) -> list[Criterion]:
    """Node pairs per rail (GPUDirect) and 2-node all_reduce; the confirmation round names
    the node (or the link) behind a low pair."""
    pairs = localize.pairwise(ev.results)
    ev.low = localize.low_pairs(ev.results, ev.expect)
    reference = localize.reference(ev.results, ev.expect)
    confirm = [r for r in ev.results if r.stage is Stage.CONFIRM]
    for s in localize.verdicts(
        ev.low, confirm, expect=ev.expect, reference=reference, leaf_of=ev.leaf_of
    ):
        if s.kind is SuspectKind.LINK:
            ev.suspects[(s.where, s.rail)] = s
        else:
            ev.name(s)
    confirmed = {c.hosts[0] for c in confirm}
    for why in ev.low.values():
        if confirmed & set(why.hosts) or _explained(ev, why):
            continue
        # no confirmation possible (no known-good node of its domain): name the low pair
        got = "failed" if why.failed else f"{why.value:.1f} vs median {why.median:.1f}"
        for h in why.hosts:
            ev.name(
                Suspect(
                    SuspectKind.PAIR_UNCONFIRMED,
                    f"low in a pairwise test ({got}); not confirmed: no known-good partner",
                    node=h,
                    rail=why.rail,
                    measured=why.family.kind,
                )
            )
    out = []
    for kind, what in (
        (Kind.GDR, "GPUDirect ib_write_bw between node pairs, per rail"),
        (Kind.NCCL, "2-node all_reduce (Ring with NCCL and RCCL), node pairs"),
    ):
        fam = [r for r in pairs if r.kind is kind]
        lows = sorted(uid for uid, why in ev.low.items() if why.family.kind is kind)
        vals = [r.value for r in fam if r.value is not None]
        floors = [f for r in fam if (f := localize.floor(r, ev.expect)) is not None]
        notes = sorted({n for r in fam if (n := ev.expect.weaker_side(r.hosts, r.collective))})
        out.append(
            Criterion(
                f"pairwise_{kind.value}",
                what,
                _status((not lows) if fam else None),
                {
                    "min": min(vals, default=None),
                    "median": localize.median_mad(vals)[0] if vals else None,
                    "units": len(fam),
                },
                {
                    "min": min(floors, default=None),
                    "fleet_tolerance_pct": round(ev.expect.fleet_tolerance * 100, 3),
                },
                failing=tuple(lows),
                note="; ".join(notes),
            )
        )
    return out


def _explained(ev: Evidence, why: localize.Low) -> bool:
    """A low pair one of whose ends its own node tests already named (on the pair's rail, or
    on any rail for a rail-less test): that end explains it, and says so in its evidence."""
    for h in why.hosts:
        keys = [
            k
            for k, s in ev.suspects.items()
            if s.node == h and (why.rail is None or k[1] == why.rail)
        ]
        if keys:
            got = "failed" if why.failed else f"{why.value:.1f} vs median {why.median:.1f}"
            s = ev.suspects[keys[0]]
            ev.suspects[keys[0]] = replace(
                s, evidence=(*s.evidence, f"its pair test {why.id} is low too ({got})")
            )
            return True
    return False


def cluster_collectives(ev: Evidence) -> list[Criterion]:
    """Each collective over the whole cluster at the reference size: one set per collective
    domain when there are several (named `cluster_<domain>_<collective>`)."""
    out = []
    ref = ev.expect.reference_bytes
    for u in ev.plan.units:
        if u.stage is not Stage.CLUSTER:
            continue
        cr = ev.by_id.get(u.id)
        if cr is None:
            continue
        c = u.collective
        n = len(cr.hosts)
        floor = ev.expect.busbw_min(c, cr.hosts)
        ok: bool | None = None if floor is None else (cr.value is not None and cr.value >= floor)
        if cr.value is None and cr.status is not Status.SKIP:
            ok = False
        where = ""
        if u.domain:
            info = vendor(ev.expect.vendor_of(u.hosts[0]))
            where = f" of {u.domain} ({info.label}, {info.benchmark})"
        out.append(
            Criterion(
                f"cluster_{u.domain}_{c}" if u.domain else f"cluster_{c}",
                f"{c} over {n} nodes{where} at {_bytes(ref)}",
                _status(ok),
                {"busbw": cr.value, "status": cr.status.value},
                {"min_busbw": floor, "peak_busbw": ev.expect.busbw_peak(c, cr.hosts)},
                failure=cr.failure,
                failing=() if ok is not False else (u.id,),
                note=ev.expect.weaker_side(cr.hosts, c),
            )
        )
    return out


def npu_ports(ev: Evidence) -> list[Criterion]:
    """Ascend NPU ports (no perftest reaches them): each port's link, health and address
    (hccn_tool), then each pair's NPU-to-NPU ping per rail. A port that is down is named with
    its rail; a ping lost between two ports that are fine names the path between them."""
    ports = [r for r in ev.of(Stage.NODE, Kind.PORT) if r.status is not Status.SKIP]
    pings = [r for r in ev.of(Stage.PAIR, Kind.PING) if r.status is not Status.SKIP]
    if not ports and not pings:
        return []
    down: set[tuple[str, int | None]] = set()
    bad_ports = []
    for r in sorted(ports, key=lambda r: (natural_key(r.hosts[0]), r.rail or 0)):
        if r.status is Status.OK:
            continue
        bad_ports.append(r.id)
        down.add((r.hosts[0], r.rail))
        msg = r.failure.message if r.failure else "failed"
        ev.name(
            Suspect(
                SuspectKind.PORT_DOWN,
                f"NPU port on rail {r.rail}: {msg} (hccn_tool; check its cable and /etc/hccn.conf)",
                node=r.hosts[0],
                rail=r.rail,
                measured=Kind.PORT,
            )
        )
    bad_pings = []
    for r in sorted(pings, key=lambda r: (natural_key(r.id), r.rail or 0)):
        if r.status is Status.OK:
            continue
        bad_pings.append(r.id)
        a, b = r.hosts
        if (a, r.rail) in down or (b, r.rail) in down:
            continue  # the port that is down says why
        rail = r.rail if r.rail is not None else 0
        la, lb = ev.leaf_of.get((a, rail), "?"), ev.leaf_of.get((b, rail), "?")
        link = f"{la} <-> {lb}" if la != lb else la
        msg = r.failure.message if r.failure else "failed"
        ev.suspects[(f"{a}-{b}", r.rail)] = Suspect(
            SuspectKind.LINK,
            f"{msg}, both ports up: check the addresses (hccn.conf) and the path {link}",
            link=link,
            rail=r.rail,
            measured=Kind.PING,
        )
    return [
        Criterion(
            "npu_ports",
            "Ascend NPU ports: link, health and address per NPU (hccn_tool)",
            _status((not bad_ports) if ports else None),
            {"down": len(bad_ports), "units": len(ports)},
            {"down": 0},
            failing=tuple(bad_ports),
        ),
        Criterion(
            "pairwise_ping",
            "NPU-to-NPU ping between node pairs, per rail (hccn_tool)",
            _status((not bad_pings) if pings else None),
            {"lost": len(bad_pings), "units": len(pings)},
            {"lost": 0},
            failing=tuple(bad_pings),
        ),
    ]


def host_memory_per_rail(ev: Evidence) -> list[Criterion]:
    """Nodes whose accelerators perftest cannot reach (no GPUDirect flag) but whose rails are
    PCIe RDMA NICs: ib_write_bw from host memory per rail is their NIC test."""
    gdr_nodes = {r.hosts[0] for r in ev.of(Stage.NODE, Kind.GDR)}
    units = [
        r
        for r in ev.of(Stage.NODE, Kind.HOST)
        if r.hosts[0] not in gdr_nodes and r.status is not Status.SKIP
    ]
    if not units:
        return []
    bad = []
    for r in units:
        floor = ev.expect.gdr_min_gbps(r.hosts)
        if r.value is None or r.value < floor:
            bad.append(r.id)
            got = "failed" if r.value is None else f"{r.value:.1f} Gb/s < {floor:g} Gb/s"
            ev.name(
                Suspect(
                    SuspectKind.GDR_LOW,
                    f"ib_write_bw from host memory {got}",
                    node=r.hosts[0],
                    rail=r.rail,
                    measured=Kind.HOST,
                )
            )
    return [
        Criterion(
            "host_memory_per_rail",
            "ib_write_bw from host memory per node and rail (no GPUDirect for these accelerators)",
            _status(not bad),
            {"min": min((r.value for r in units if r.value is not None), default=None)},
            {"min_gbps": min(ev.expect.gdr_min_gbps(r.hosts) for r in units)},
            failing=tuple(bad),
        )
    ]


def all_units_ran(ev: Evidence) -> list[Criterion]:
    missing = [u.id for u in ev.plan.all_units() if u.id not in ev.by_id]
    errors = sum(1 for r in ev.results if r.status in (Status.ERROR, Status.SKIP))
    return [
        Criterion(
            "all_units_ran",
            "every planned test ran",
            _status(not missing and not errors),
            {"missing": len(missing), "errors": errors},
            {"missing": 0, "errors": 0},
        )
    ]


CRITERIA: tuple[Callable[[Evidence], list[Criterion]], ...] = (
    reachability,
    gdr_per_rail,
    gdr_vs_host_memory,
    host_memory_per_rail,
    nccl_single_node,
    npu_ports,
    pairwise_tests,
    cluster_collectives,
    all_units_ran,
)


def _merge_gdr_unavailable(ev: Evidence) -> None:
    """Every rail of a node without GPUDirect: one finding for the node (peermem, not cables)."""
    for node in sorted({k[0] for k in ev.suspects}, key=natural_key):
        keys = [k for k in ev.suspects if k[0] == node and k[1] is not None]
        rails = ev.expect.group_of(node).rails if node in ev.expect.node_group else 0
        if len(keys) == rails > 1 and all(
            ev.suspects[k].kind is SuspectKind.GDR_UNAVAILABLE for k in keys
        ):
            first = ev.suspects[keys[0]].reason.split(": ", 1)[-1]
            for k in keys:
                ev.suspects.pop(k)
            before = ev.suspects.pop((node, None), None)
            ev.suspects[(node, None)] = Suspect(
                SuspectKind.GDR_UNAVAILABLE,
                f"GPUDirect RDMA unavailable on {node} (every rail): {first}",
                node=node,
                measured=Kind.GDR,
                evidence=(before.reason,) if before else (),
            )


def _drop_dead_rails(ev: Evidence) -> None:
    """A node that died: the tests it could not finish say nothing more."""
    for h in ev.dead:
        for k in [k for k in ev.suspects if k[0] == h and k[1] is not None]:
            ev.suspects.pop(k)


def _nccl_only_hint(ev: Evidence) -> None:
    """Slow only in NCCL with good partners while its GPUDirect per rail is fine: say where."""
    with_rail = {k[0] for k in ev.suspects if k[1] is not None}
    for k, s in list(ev.suspects.items()):
        if (
            k[1] is None
            and k[0] not in with_rail
            and s.kind is SuspectKind.PAIR_CONFIRMED
            and s.measured is Kind.NCCL
        ):
            ev.suspects[k] = replace(
                s,
                reason=s.reason + " (its GPUDirect tests per rail are fine: check its cabling "
                "with aictl topo verify, and NCCL_IB_HCA)",
            )


def _fold_railless(ev: Evidence) -> None:
    """A node named on a rail: its rail-less findings are evidence, not new suspects."""
    railed = {k[0] for k in ev.suspects if k[1] is not None and k[0] in ev.expect.node_group}
    for key in [k for k in ev.suspects if k[1] is None and k[0] in railed]:
        extra = ev.suspects.pop(key).reason
        for k, s in list(ev.suspects.items()):
            if k[0] == key[0]:
                ev.suspects[k] = replace(s, evidence=(*s.evidence, extra))


FOLDS: tuple[Callable[[Evidence], None], ...] = (
    _merge_gdr_unavailable,
    _drop_dead_rails,
    _nccl_only_hint,
    _fold_railless,
)


def _domains(
    ev: Evidence, criteria: list[Criterion], missing: tuple[str, ...]
) -> tuple[DomainVerdict, ...]:
    """Each collective domain's verdict (none for a run of one domain): the criteria that
    failed on its units, the suspects among its nodes and leaves."""
    exp = ev.expect
    if not exp.several_domains:
        return ()
    leaf_domains: dict[str, set[str]] = {}
    for (host, _rail), leaf in ev.leaf_of.items():
        if host in exp.node_domain:
            leaf_domains.setdefault(leaf, set()).add(exp.domain_of(host))
    out = []
    for name in sorted(set(exp.node_domain.values()), key=natural_key):
        hosts = {h for h in ev.plan.hosts if exp.domain_of(h) == name}
        if not hosts:
            continue
        ids = {u.id for u in ev.plan.all_units() if u.hosts[0] in hosts}
        failed = tuple(c.name for c in criteria if c.status is Status.FAIL and set(c.failing) & ids)
        named = []
        for s in ev.suspects.values():
            if s.node:
                ours = s.node in hosts
            else:
                ours = any(name in leaf_domains.get(x, ()) for x in s.link.split(" <-> "))
            if ours:
                named.append(s.where if s.rail is None else f"{s.where} rail {s.rail}")
        incomplete = bool(set(missing) & ids)
        out.append(
            DomainVerdict(
                name,
                vendor(exp.vendor_of(next(iter(hosts)))).label,
                tuple(sorted({exp.node_group[h] for h in hosts}, key=natural_key)),
                len(hosts),
                Verdict.INCOMPLETE
                if incomplete
                else Verdict.FAIL
                if failed or named
                else Verdict.PASS,
                failed,
                tuple(sorted(named, key=natural_key)),
            )
        )
    return tuple(out)


def judge(
    plan: RunPlan,
    results: Iterable[UnitResult],
    expect: Expectations,
    *,
    leaf_of: dict[tuple[str, int], str],
) -> Judgement:
    """Criteria, suspects and the verdict for one run."""
    results = list(results)
    ev = Evidence(plan, results, expect, leaf_of, by_id={r.id: r for r in results})
    criteria = [c for rule in CRITERIA for c in rule(ev)]
    for fold in FOLDS:
        fold(ev)
    missing = tuple(u.id for u in plan.all_units() if u.id not in ev.by_id)
    failed = any(c.status is Status.FAIL for c in criteria)
    verdict = (
        Verdict.INCOMPLETE if missing else Verdict.FAIL if failed or ev.suspects else Verdict.PASS
    )
    return Judgement(
        verdict,
        tuple(criteria),
        tuple(sorted(ev.suspects.values(), key=lambda s: (natural_key(s.where), s.rail or 0))),
        missing,
        tuple(sorted(ev.low)),
        _domains(ev, criteria, missing),
    )
