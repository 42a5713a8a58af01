"""From a run's results to its verdict: the criteria with measured and expected values, and
the suspects (node and rail, or the link), with the reason in operator words."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from aictl.accept import localize
from aictl.accept.expect import COLLECTIVES
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from aictl.accept.expect import Expectations


def _criterion(
    name: str, what: str, measured: Any, expected: Any, ok: bool | None, **kw: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "what": what,
        "measured": measured,
        "expected": expected,
        "pass": ok,
        **kw,
    }


def _bytes(n: int) -> str:
    for unit, div in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} bytes"


def _low_fleet(values: dict[str, float], tol: float) -> set[str]:
    return set(localize.low_values(values, tolerance=tol, floor=None))


def judge(
    plan: dict[str, Any],
    results: list[dict[str, Any]],
    expect: Expectations,
    *,
    leaf_of: dict[tuple[str, int], str],
) -> dict[str, Any]:
    """criteria, suspects and the verdict for one run."""
    by_id = {r["id"]: r for r in results}
    units = plan["units"] + plan.get("confirm_units", [])
    missing = [u["id"] for u in units if u["id"] not in by_id]
    tol = expect.fleet_tolerance
    criteria: list[dict[str, Any]] = []
    suspects: dict[tuple[str, Any], dict[str, Any]] = {}

    def suspect(node: str, rail: int | None, reason: str) -> None:
        key = (node, rail)
        if key not in suspects:
            suspects[key] = {
                "node": node,
                **({"rail": rail} if rail is not None else {}),
                "reason": reason,
            }

    # reachability
    dead = sorted(
        {
            r["failure"]["host"]
            for r in results
            if r["status"] == "error"
            and (r.get("failure") or {}).get("kind") == "unreachable"
            and r["failure"].get("host")
        },
        key=natural_key,
    )
    for h in dead:
        suspect(h, None, "unreachable during the run (its remaining tests were skipped)")
    # 1. per node GPUDirect and host-memory loopback
    node_gdr = [r for r in results if r["stage"] == "node" and r["kind"] == "gdr"]
    host_bw = {
        (r["hosts"][0], r["rail"]): r["value"]
        for r in results
        if r["stage"] == "node" and r["kind"] == "host" and r["value"]
    }
    bad_gdr = []
    for r in sorted(node_gdr, key=lambda r: (natural_key(r["hosts"][0]), r["rail"])):
        h, rail = r["hosts"][0], r["rail"]
        if r["status"] == "skipped":
            continue
        if r["value"] is None:
            bad_gdr.append(r["id"])
            msg = (r.get("failure") or {}).get("message", "failed")
            suspect(
                h,
                rail,
                f"GPUDirect RDMA unavailable on {h} rail {rail}: {msg} (is nvidia-peermem loaded?)",
            )
        elif r["value"] < expect.gdr_min_gbps:
            bad_gdr.append(r["id"])
            hb = host_bw.get((h, rail))
            extra = f"; from host memory {hb:.1f} Gb/s" if hb else ""
            suspect(
                h,
                rail,
                f"GPUDirect ib_write_bw {r['value']:.1f} Gb/s < {expect.gdr_min_gbps:g} Gb/s "
                f"({expect.gdr_min_fraction:.0%} of {expect.link_gbps} Gb/s){extra}",
            )
    gdr_values = [r["value"] for r in node_gdr if r["value"] is not None]
    criteria.append(
        _criterion(
            "gdr_per_rail",
            "GPUDirect ib_write_bw per node and rail, GPU nearest the NIC (loopback)",
            {"min": min(gdr_values, default=None), "units": len(node_gdr)},
            {"min_gbps": expect.gdr_min_gbps},
            not bad_gdr if node_gdr else None,
            failing=bad_gdr,
        )
    )
    ratios = [
        r["value"] / host_bw[(r["hosts"][0], r["rail"])]
        for r in node_gdr
        if r["value"] and host_bw.get((r["hosts"][0], r["rail"]))
    ]
    criteria.append(
        _criterion(
            "gdr_vs_host_memory",
            "GPUDirect bandwidth against the same NIC from host memory",
            {"min_ratio": round(min(ratios), 3) if ratios else None},
            {"min_ratio": expect.gdr_min_fraction},
            (min(ratios) >= expect.gdr_min_fraction) if ratios else None,
        )
    )
    # single-node NCCL (NVLink)
    node_nccl = [
        r
        for r in results
        if r["stage"] == "node" and r["kind"] == "nccl" and r["status"] != "skipped"
    ]
    floor1 = expect.busbw_min("all_reduce", 1)
    bad1 = []
    for r in node_nccl:
        h = r["hosts"][0]
        if r["value"] is None:
            bad1.append(r["id"])
            suspect(
                h, None, f"single-node all_reduce {r['failure']['kind']}: {r['failure']['message']}"
            )
        elif floor1 is not None and r["value"] < floor1:
            bad1.append(r["id"])
            suspect(
                h,
                None,
                f"single-node all_reduce busbw {r['value']:.1f} GB/s < {floor1:g} GB/s (NVLink)",
            )
    vals1 = {r["hosts"][0]: r["value"] for r in node_nccl if r["value"]}
    for h in sorted(_low_fleet(vals1, tol), key=natural_key):
        bad1.append(f"node/{h}/nccl/all_reduce")
        suspect(
            h,
            None,
            f"single-node all_reduce busbw {vals1[h]:.1f} GB/s is more than {tol:.0%} below "
            "the fleet median",
        )
    criteria.append(
        _criterion(
            "nccl_single_node",
            "all_reduce inside each node (NVLink)",
            {"min": min(vals1.values(), default=None)},
            {"min_busbw": floor1},
            (not bad1) if node_nccl and floor1 is not None else (None if not bad1 else False),
            failing=sorted(set(bad1)),
        )
    )
    # 2. pairwise + confirmation
    pairs = [r for r in results if r["stage"] == "pair" and r["status"] in ("ok", "failed")]
    floors = localize.floor_map(expect)
    low = localize.suspects(pairs, tolerance=tol, floors=floors)
    for r in pairs:
        if r["value"] is None:
            low.setdefault(
                r["id"],
                {
                    "value": 0.0,
                    "median": 0.0,
                    "mad": 0.0,
                    "hosts": r["hosts"],
                    "rail": r.get("rail"),
                    "family": localize.family(r),
                },
            )
    fam_vals: dict[str, list[float]] = defaultdict(list)
    for r in pairs:
        if r["value"] is not None:
            fam_vals[localize.family(r)].append(r["value"])
    reference = {f: localize.median_mad(v)[0] for f, v in fam_vals.items()}
    confirm = []
    for r in results:
        if r["stage"] != "confirm":
            continue
        confirm.append(
            {**r, "suspect": r["hosts"][0], "partner": r["hosts"][1], "family": localize.family(r)}
        )
    named = localize.verdicts(
        low, confirm, tolerance=tol, floors=floors, reference=reference, leaf_of=leaf_of
    )
    for s in named:
        if "node" in s:
            suspect(s["node"], s.get("rail"), s["reason"])
        else:
            suspects[(s["link"], s.get("rail"))] = s
    if low and not confirm:
        # no confirmation possible (no known-good node): name the low pairs
        for why in low.values():
            for h in why["hosts"]:
                suspect(
                    h,
                    why["rail"],
                    f"low in a pairwise test ({why['value']:.1f} vs median {why['median']:.1f}); "
                    "not confirmed: no known-good partner",
                )
    for kind, what in (
        ("gdr", "GPUDirect ib_write_bw between node pairs, per rail"),
        ("nccl", "2-node all_reduce (Ring), node pairs"),
    ):
        fam = [r for r in pairs if r["kind"] == kind]
        lows = sorted(uid for uid in low if uid.split("/")[3] == kind)
        vals = [r["value"] for r in fam if r["value"] is not None]
        criteria.append(
            _criterion(
                f"pairwise_{kind}",
                what,
                {
                    "min": min(vals, default=None),
                    "median": localize.median_mad(vals)[0] if vals else None,
                    "units": len(fam),
                },
                {
                    "min": expect.gdr_min_gbps if kind == "gdr" else floors["nccl/all_reduce/r"],
                    "fleet_tolerance_pct": round(tol * 100, 3),
                },
                (not lows) if fam else None,
                failing=lows,
            )
        )
    # 3. whole cluster
    for c in COLLECTIVES:
        cr = by_id.get(f"cluster/{c}")
        if cr is None:
            continue
        n = len(cr["hosts"])
        floor = expect.busbw_min(c, n)
        ok = None if floor is None else (cr["value"] is not None and cr["value"] >= floor)
        if cr["value"] is None and cr["status"] != "skipped":
            ok = False
        criteria.append(
            _criterion(
                f"cluster_{c}",
                f"{c} over {n} nodes at {_bytes(expect.reference_bytes)}",
                {"busbw": cr["value"], "status": cr["status"]},
                {"min_busbw": floor, "peak_busbw": expect.busbw_peak(c, n)},
                ok,
                failure=cr.get("failure"),
            )
        )
    criteria.append(
        _criterion(
            "all_units_ran",
            "every planned test ran",
            {
                "missing": len(missing),
                "errors": sum(1 for r in results if r["status"] in ("error", "skipped")),
            },
            {"missing": 0, "errors": 0},
            not missing and not any(r["status"] in ("error", "skipped") for r in results),
        )
    )
    # every rail of a node without GPUDirect: one finding for the node (peermem, not cables)
    for node in {k[0] for k in suspects}:
        keys = [k for k in suspects if k[0] == node and k[1] is not None]
        if len(keys) == expect.rails > 1 and all(
            "unavailable" in suspects[k]["reason"] for k in keys
        ):
            first = suspects[keys[0]]["reason"].split(": ", 1)[-1]
            for k in keys:
                suspects.pop(k)
            before = suspects.pop((node, None), None)
            suspects[(node, None)] = {
                "node": node,
                "reason": f"GPUDirect RDMA unavailable on {node} (every rail): {first}",
                **({"evidence": [before["reason"]]} if before else {}),
            }
    # a node that died: the tests it could not finish say nothing more
    for h in dead:
        for k in [k for k in suspects if k[0] == h and k[1] is not None]:
            suspects.pop(k)
    # slow only in NCCL with good partners while its GPUDirect per rail is fine: say where to look
    with_rail = {k[0] for k in suspects if k[1] is not None}
    for k, s in suspects.items():
        if k[1] is None and k[0] not in with_rail and s["reason"].startswith("2-node all_reduce"):
            s["reason"] += (
                " (its GPUDirect tests per rail are fine: check its cabling with aictl topo "
                "verify, and NCCL_IB_HCA)"
            )
    # a node named on a rail: its rail-less findings (NCCL pairs) are evidence, not new suspects
    railed = {k[0] for k in suspects if k[1] is not None}
    for key in [k for k in suspects if k[1] is None and k[0] in railed]:
        extra = suspects.pop(key)["reason"]
        for k, s in suspects.items():
            if k[0] == key[0]:
                s.setdefault("evidence", []).append(extra)
    failed = [c for c in criteria if c["pass"] is False]
    verdict = "incomplete" if missing else ("fail" if failed or suspects else "pass")
    return {
        "verdict": verdict,
        "criteria": criteria,
        "suspects": sorted(
            suspects.values(),
            key=lambda s: (natural_key(s.get("node", s.get("link", ""))), s.get("rail") or 0),
        ),
        "missing_units": missing,
        "low_pairs": sorted(low),
    }
