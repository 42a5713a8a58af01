"""Slow-node localization: robust outliers over pairwise results, then a confirmation round.

A pairwise measurement is low when it is below the absolute threshold or more than the fleet
tolerance below the median of its family (the same test, the same rail, the same node groups
at its ends); the MAD is reported beside it. Both ends of a low pair are suspects. The
confirmation round pairs each suspect with a node that had no low result (one of its own node
group when there is one, always of its collective domain, a different one for each suspect,
so the round is disjoint) and
repeats the low tests: a suspect that is low again is named, with its rail; when neither end
of a low pair is low with good partners, the path between them (their leaves) is named
instead. One slow NIC among N nodes is named after two rounds.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from aictl.accept.model import Kind, Stage, Suspect, SuspectKind, UnitResult
from aictl.natsort import natural_key
from aictl.status import Status

if TYPE_CHECKING:
    from aictl.accept.expect import Expectations


class Family(NamedTuple):
    """Results compared with each other: same test, same rail, same node groups."""

    kind: Kind
    collective: str
    rail: int | None
    groups: tuple[str, ...]


def family(result: UnitResult, expect: Expectations) -> Family:
    return Family(
        result.kind,
        result.collective or "",
        result.rail,
        tuple(expect.groups_of(result.hosts)),
    )


def floor(result: UnitResult, expect: Expectations) -> float | None:
    """The absolute floor a result of this kind and these hosts must reach."""
    if result.kind in (Kind.GDR, Kind.HOST):
        return expect.gdr_min_gbps(result.hosts)
    return expect.busbw_min(result.collective or "all_reduce", result.hosts)


def median_mad(values: list[float]) -> tuple[float, float]:
    """Median and median absolute deviation."""
    if not values:
        return 0.0, 0.0
    m = statistics.median(values)
    return m, statistics.median(abs(v - m) for v in values)


@dataclass(frozen=True, slots=True)
class Low:
    """A pairwise result below its floor or its family's median."""

    id: str
    value: float
    median: float
    mad: float
    floor: float
    hosts: tuple[str, ...]
    rail: int | None
    family: Family
    failed: bool = False  # no number at all


def is_low(value: float | None, median: float, tolerance: float, floor_: float | None) -> bool:
    return (
        value is None or (floor_ is not None and value < floor_) or value < median * (1 - tolerance)
    )


def pairwise(results: list[UnitResult]) -> list[UnitResult]:
    """The pairwise bandwidth results that measured something or failed (not skipped or
    lost; an NPU ping measures no bandwidth and is judged on its own)."""
    return [
        r
        for r in results
        if r.stage is Stage.PAIR
        and r.status in (Status.OK, Status.FAIL)
        and r.kind not in (Kind.PORT, Kind.PING)
    ]


def reference(results: list[UnitResult], expect: Expectations) -> dict[Family, float]:
    """What good looks like: the median of each family over the pairwise rounds."""
    values: dict[Family, list[float]] = defaultdict(list)
    for r in pairwise(results):
        if r.value is not None:
            values[family(r, expect)].append(r.value)
    return {f: median_mad(v)[0] for f, v in values.items()}


def low_pairs(results: list[UnitResult], expect: Expectations) -> dict[str, Low]:
    """Low pairwise results by unit id (a failed pair test, with no number, is low too)."""
    pairs = pairwise(results)
    fams: dict[Family, list[UnitResult]] = defaultdict(list)
    for r in pairs:
        fams[family(r, expect)].append(r)
    out: dict[str, Low] = {}
    for fam, members in fams.items():
        m, mad = median_mad([r.value for r in members if r.value is not None])
        for r in members:
            fl = floor(r, expect)
            if is_low(r.value, m, expect.fleet_tolerance, fl):
                out[r.id] = Low(
                    r.id,
                    r.value or 0.0,
                    m if r.value is not None else 0.0,
                    mad if r.value is not None else 0.0,
                    fl or 0.0,
                    r.hosts,
                    r.rail,
                    fam,
                    failed=r.value is None,
                )
    return out


def low_values(
    values: dict[str, float], *, tolerance: float, floor: float | None
) -> dict[str, tuple[float, float]]:
    """Keys whose value is under `floor` or more than `tolerance` below the median ->
    (value, median)."""
    m, _mad = median_mad(list(values.values()))
    return {k: (v, m) for k, v in values.items() if is_low(v, m, tolerance, floor)}


@dataclass(frozen=True, slots=True)
class Confirmation:
    """Repeat a low test: the suspect with a known-good partner."""

    suspect: str
    partner: str
    family: Family


def confirmation_pairs(
    low: dict[str, Low], all_hosts: list[str], bad_hosts: set[str], expect: Expectations
) -> list[Confirmation]:
    """One confirmation per suspect and low test, each suspect with its own good partner (of
    its node group when one is left, so the result compares with the same family)."""
    tests: dict[str, list[Family]] = defaultdict(list)
    for why in low.values():
        for h in why.hosts:
            # the confirmation runs inside the suspect's group when it can
            fam = why.family._replace(groups=(expect.node_group[h],))
            if fam not in tests[h]:
                tests[h].append(fam)
    involved = set(tests) | bad_hosts
    good = [h for h in sorted(all_hosts, key=natural_key) if h not in involved]
    by_group: dict[str, list[str]] = defaultdict(list)
    by_domain: dict[str, list[str]] = defaultdict(list)
    for h in good:
        by_group[expect.node_group[h]].append(h)
        by_domain[expect.domain_of(h)].append(h)
    used: dict[str, int] = defaultdict(int)
    out = []
    for i, s in enumerate(sorted(tests, key=natural_key)):
        # a partner of the suspect's own collective domain: no test spans two
        near = by_domain.get(expect.domain_of(s)) or []
        if not near:
            continue
        own = by_group.get(expect.node_group[s]) or []
        if own:
            partner = own[used[expect.node_group[s]] % len(own)]
            used[expect.node_group[s]] += 1
        else:
            partner = near[i % len(near)]
        for fam in sorted(tests[s], key=lambda f: (f.rail is None, f.rail or 0, f.kind)):
            out.append(Confirmation(s, partner, fam))
    return out


def verdicts(
    low: dict[str, Low],
    confirm: list[UnitResult],
    *,
    expect: Expectations,
    reference: dict[Family, float],
    leaf_of: dict[tuple[str, int], str],
) -> list[Suspect]:
    """Suspects named after the confirmation round: node and rail, or the link between leaves.

    `reference`: the median of each family from the pairwise rounds (what good looks like)."""
    named: dict[tuple[str, int | None], Suspect] = {}
    cleared: set[tuple[str, int | None]] = set()
    tol = expect.fleet_tolerance
    for c in confirm:
        suspect_host, partner = c.hosts[0], c.hosts[-1]
        fam = family(c, expect)
        med = reference.get(fam, 0.0)
        key = (suspect_host, c.rail)
        if is_low(c.value, med, tol, floor(c, expect)):
            what = {
                Kind.GDR: "GPUDirect ib_write_bw",
                Kind.HOST: "ib_write_bw from host memory",
            }.get(c.kind, "2-node all_reduce busbw")
            got = "failed" if c.value is None else f"{c.value:.1f} {c.unit}"
            named[key] = Suspect(
                SuspectKind.PAIR_CONFIRMED,
                f"{what} {got} with known-good {partner}, the fleet's median is {med:.1f} {c.unit}",
                node=suspect_host,
                rail=c.rail,
                measured=c.kind,
            )
        else:
            cleared.add(key)
    # low pairs whose ends both came back clean: the path between them
    for why in low.values():
        a, b = why.hosts[0], why.hosts[-1]
        rail = why.rail
        if any(k[0] in (a, b) for k in named):
            continue
        if rail is not None and (a, rail) in cleared and (b, rail) in cleared:
            la, lb = leaf_of.get((a, rail), "?"), leaf_of.get((b, rail), "?")
            link = f"{la} <-> {lb}" if la != lb else la
            named[(f"{a}-{b}", rail)] = Suspect(
                SuspectKind.LINK,
                f"{a} and {b} are each fine with other partners but slow together "
                f"({why.value:.1f} vs median {why.median:.1f}): check the path {link}",
                link=link,
                rail=rail,
                measured=why.family.kind,
            )
    return sorted(named.values(), key=lambda s: (natural_key(s.where), s.rail or 0))
