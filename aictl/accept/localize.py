"""Slow-node localization: robust outliers over pairwise results, then a confirmation round.

A pairwise measurement is low when it is below the absolute threshold or more than the fleet
tolerance below the median of its family (the same test, the same rail); the MAD is reported
beside it. Both ends of a low pair are suspects. The confirmation round pairs each suspect
with a node that had no low result (a different one for each suspect, so the round is
disjoint) and repeats the low tests: a suspect that is low again is named, with its rail;
when neither end of a low pair is low with good partners, the path between them (their
leaves) is named instead. One slow NIC among N nodes is named after two rounds.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from aictl.natsort import natural_key

if TYPE_CHECKING:
    from aictl.accept.expect import Expectations


def floor_map(expect: Expectations) -> dict[str, float | None]:
    """Absolute floors per result family (GPUDirect per rail, 2-node all_reduce)."""
    floors: dict[str, float | None] = {
        f"gdr//r{r}": expect.gdr_min_gbps for r in range(expect.rails)
    }
    floors["nccl/all_reduce/r"] = expect.busbw_min("all_reduce", 2)
    return floors


def median_mad(values: list[float]) -> tuple[float, float]:
    """Median and median absolute deviation."""
    if not values:
        return 0.0, 0.0
    m = statistics.median(values)
    return m, statistics.median(abs(v - m) for v in values)


def low_values(
    values: dict[str, float], *, tolerance: float, floor: float | None
) -> dict[str, dict[str, float]]:
    """Keys whose value is under `floor` or more than `tolerance` below the median."""
    m, mad = median_mad(list(values.values()))
    out = {}
    for k, v in values.items():
        if (floor is not None and v < floor) or v < m * (1 - tolerance):
            out[k] = {"value": v, "median": m, "mad": mad, "floor": floor or 0.0}
    return out


def family(result: dict[str, Any]) -> str:
    """Results compared with each other: same stage kind, test and rail."""
    rail = result.get("rail")
    return f"{result['kind']}/{result.get('collective') or ''}/r{'' if rail is None else rail}"


def suspects(
    pair_results: list[dict[str, Any]], *, tolerance: float, floors: dict[str, float | None]
) -> dict[str, dict[str, Any]]:
    """Low pairwise results -> unit id -> why (value, median, hosts, rail)."""
    fams: dict[str, dict[str, float]] = defaultdict(dict)
    by_id = {}
    for r in pair_results:
        if r.get("value") is None:
            continue
        fams[family(r)][r["id"]] = float(r["value"])
        by_id[r["id"]] = r
    out: dict[str, dict[str, Any]] = {}
    for fam, values in fams.items():
        for uid, why in low_values(values, tolerance=tolerance, floor=floors.get(fam)).items():
            out[uid] = {
                **why,
                "hosts": by_id[uid]["hosts"],
                "rail": by_id[uid].get("rail"),
                "family": fam,
            }
    return out


def confirmation_pairs(
    low: dict[str, dict[str, Any]], all_hosts: list[str], bad_hosts: set[str]
) -> list[tuple[str, str, int | None, str]]:
    """(suspect, good partner, rail or None for NCCL, family) for each suspect and low test."""
    suspect_hosts: dict[str, list[tuple[int | None, str]]] = defaultdict(list)
    for why in low.values():
        for h in why["hosts"]:
            key = (why["rail"], why["family"])
            if key not in suspect_hosts[h]:
                suspect_hosts[h].append(key)
    involved = set(suspect_hosts) | bad_hosts
    good = [h for h in sorted(all_hosts, key=natural_key) if h not in involved]
    out = []
    for i, s in enumerate(sorted(suspect_hosts, key=natural_key)):
        if not good:
            break
        partner = good[i % len(good)]
        for rail, fam in sorted(suspect_hosts[s], key=lambda t: (t[0] is None, t[0] or 0, t[1])):
            out.append((s, partner, rail, fam))
    return out


def verdicts(
    low: dict[str, dict[str, Any]],
    confirm: list[dict[str, Any]],
    *,
    tolerance: float,
    floors: dict[str, float | None],
    reference: dict[str, float],
    leaf_of: dict[tuple[str, int], str],
) -> list[dict[str, Any]]:
    """Suspects named after the confirmation round: node and rail, or the link between leaves.

    `reference`: the median of each family from the pairwise rounds (what good looks like)."""
    named: dict[tuple[str, Any], dict[str, Any]] = {}
    cleared: set[tuple[str, Any]] = set()
    for c in confirm:
        fam = c["family"]
        value = c.get("value")
        floor = floors.get(fam)
        med = reference.get(fam, 0.0)
        is_low = (
            value is None or (floor is not None and value < floor) or value < med * (1 - tolerance)
        )
        key = (c["suspect"], c.get("rail"))
        if is_low:
            what = "GPUDirect ib_write_bw" if c["kind"] == "gdr" else "2-node all_reduce busbw"
            unit = "Gb/s" if c["kind"] == "gdr" else "GB/s"
            got = "failed" if value is None else f"{value:.1f} {unit}"
            named[key] = {
                "node": c["suspect"],
                **({"rail": c["rail"]} if c.get("rail") is not None else {}),
                "reason": f"{what} {got} with known-good {c['partner']}, "
                f"the fleet's median is {med:.1f} {unit}",
            }
        else:
            cleared.add(key)
    # low pairs whose ends both came back clean: the path between them
    for why in low.values():
        a, b = why["hosts"][0], why["hosts"][-1]
        rail = why["rail"]
        if any(k[0] in (a, b) for k in named):
            continue
        if (a, rail) in cleared and (b, rail) in cleared and rail is not None:
            la, lb = leaf_of.get((a, rail), "?"), leaf_of.get((b, rail), "?")
            link = f"{la} <-> {lb}" if la != lb else la
            named[(f"{a}-{b}", rail)] = {
                "link": link,
                "rail": rail,
                "reason": f"{a} and {b} are each fine with other partners but slow together "
                f"({why['value']:.1f} vs median {why['median']:.1f}): check the path {link}",
            }
    return sorted(
        named.values(),
        key=lambda s: (natural_key(s.get("node", s.get("link", ""))), s.get("rail") or 0),
    )
