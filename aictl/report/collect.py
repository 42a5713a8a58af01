"""Everything a report shows, gathered from the build directory into one JSON-able document.

Inputs (each optional but the plan): `spec.resolved.json` (the plan is rebuilt from it, the
planner is fast), `check.json` (preflight), `verify.json` (fabric), and one acceptance run
(`runs/<id>/`: plan.json, results.jsonl, summary.json). Raw tool outputs are never copied into
a report, and nothing from an environment block is; the report says whether its numbers are
simulated.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from aictl.errors import UsageError
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from pathlib import Path

SCHEMA_VERSION = 1


def locate(path: Path) -> tuple[Path, Path | None]:
    """(build dir, run dir or None) from a run directory or a build directory."""
    if (path / "plan.json").exists() and (path / "results.jsonl").exists():
        return path.parent.parent, path
    if (path / "spec.resolved.json").exists():
        runs = sorted(
            (p for p in (path / "runs").glob("run-*") if (p / "summary.json").exists()),
            key=lambda p: natural_key(p.name),
        )
        return path, (runs[-1] if runs else None)
    raise UsageError(
        f"{path}: neither a run directory (runs/<id>/) nor a build directory",
        hint="aictl report build/<cluster> (after aictl topo plan), or one of its runs/<id>",
    )


def _json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def _plan(build: Path) -> tuple[Any, dict[str, Any]]:
    from aictl.spec.loader import load_resolved
    from aictl.topology import build_topology
    from aictl.topology.analysis import path_classes, summary
    from aictl.topology.exports.cabling import render_bom, render_cabling

    resolved = build / "spec.resolved.json"
    if not resolved.exists():
        raise UsageError(
            f"{build}: no spec.resolved.json", hint="run aictl topo plan for this cluster first"
        )
    loaded = load_resolved(resolved)
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    bom = list(csv.DictReader(io.StringIO(render_bom(topo))))
    cabling = list(csv.DictReader(io.StringIO(render_cabling(topo))))
    return topo, {
        "summary": summary(topo),
        "path_classes": path_classes(topo),
        "bom": bom,
        "cabling_excerpt": cabling[:12],
        "cables": len(cabling),
    }


def _acceptance(run: Path) -> dict[str, Any]:
    plan = _json(run / "plan.json")
    summary = _json(run / "summary.json") or {}
    results = [
        json.loads(x)
        for x in (run / "results.jsonl").read_text().splitlines()
        if x.strip().endswith("}")
    ]
    exp = summary.get("expectations") or plan.get("expectations") or {}
    curves: dict[str, Any] = {}
    for r in results:
        if r["stage"] == "cluster" and r.get("rows"):
            c = r["collective"]
            curves[c] = {
                "nodes": len(r["hosts"]),
                "points": [[p["size_bytes"], p["busbw_gbps"]] for p in r["rows"]],
                "min": r.get("expected_min"),
                "status": r["status"],
            }
    rails = list(range(int(exp.get("rails", 0))))
    hosts = plan["hosts"]
    heat: dict[str, dict[str, float | None]] = {
        h: {f"rail {r}": None for r in rails} for h in hosts
    }
    gdr: dict[str, dict[str, Any]] = {h: {} for h in hosts}
    node_nccl: dict[str, Any] = {}
    for r in results:
        if r["kind"] == "gdr" and r["stage"] in ("pair", "confirm") and r["value"] is not None:
            for h in r["hosts"]:
                key = f"rail {r['rail']}"
                cur = heat[h].get(key)
                heat[h][key] = r["value"] if cur is None else min(cur, r["value"])
        if r["stage"] == "node" and r["kind"] in ("gdr", "host"):
            cell = gdr[r["hosts"][0]].setdefault(str(r["rail"]), {})
            cell["gpu" if r["kind"] == "gdr" else "_"] = (r.get("gpus") or [None])[0]
            cell[f"{r['kind']}_gbps"] = r["value"]
            cell[f"{r['kind']}_status"] = r["status"]
        if r["stage"] == "node" and r["kind"] == "nccl":
            node_nccl[r["hosts"][0]] = {"busbw": r["value"], "status": r["status"]}
    for cells in gdr.values():
        for cell in cells.values():
            cell.pop("_", None)
    return {
        "run_id": plan["run_id"],
        "suite": plan["suite"],
        "launcher": plan["launcher"],
        "hosts": hosts,
        "verdict": summary.get("verdict", "incomplete"),
        "criteria": summary.get("criteria", []),
        "suspects": summary.get("suspects", []),
        "low_pairs": summary.get("low_pairs", []),
        "units": summary.get("units", {}),
        "expectations": exp,
        "gpu_for_rail": plan.get("gpu_for_rail", {}),
        "curves": curves,
        "heatmap": heat,
        "gdr_matrix": gdr,
        "node_nccl": node_nccl,
        "results": [
            {
                k: r.get(k)
                for k in (
                    "id",
                    "stage",
                    "kind",
                    "hosts",
                    "rail",
                    "collective",
                    "status",
                    "value",
                    "unit",
                    "failure",
                )
            }
            for r in results
        ],
        "simulated": bool(summary.get("simulated")) or any(r.get("simulated") for r in results),
    }


def _versions(run: Path | None, check: dict[str, Any] | None) -> dict[str, list[str]]:
    import re

    seen: dict[str, set[str]] = {"driver": set(), "ofed": set(), "nccl-tests": set(), "nccl": set()}
    for v in ((check or {}).get("versions") or {}).values():
        for k in ("driver", "ofed"):
            if v.get(k):
                seen[k].add(v[k])
    if run is not None:
        for f in sorted((run / "raw").glob("*nccl*")):
            text = f.read_text(errors="replace")[:4000]
            if m := re.search(
                r"# nccl-tests version (\S+) nccl-headers=\d+ nccl-library=(\d+)", text
            ):
                seen["nccl-tests"].add(m.group(1))
                lib = int(m.group(2))
                seen["nccl"].add(f"{lib // 10000}.{lib // 100 % 100}.{lib % 100}")
    return {k: sorted(v) for k, v in seen.items()}


def collect(
    build: Path, *, run: Path | None = None, plan_only: bool = False
) -> tuple[Any, dict[str, Any]]:
    """(topology, report document) for a build directory and one of its runs."""
    topo, plan = _plan(build)
    check = None if plan_only else _json(build / "check.json")
    verify = None if plan_only else _json(build / "verify.json")
    acceptance = _acceptance(run) if run is not None else None
    flagged = {s["node"] for s in (acceptance or {}).get("suspects", []) if "node" in s}
    flagged |= set((check or {}).get("failing", {}))
    links = [s for s in (acceptance or {}).get("suspects", []) if "link" in s]
    doc = {
        "schema_version": SCHEMA_VERSION,
        "kind": "aictl.report",
        "cluster": topo.name,
        "spec_sha256": topo.spec_sha256,
        "plan": plan,
        "preflight": check,
        "verify": verify,
        "acceptance": acceptance,
        "versions": _versions(run, check),
        "flagged_nodes": sorted(flagged, key=natural_key),
        "flagged_links": links,
        "simulated": bool(
            (acceptance or {}).get("simulated")
            or (check or {}).get("simulated")
            or (verify or {}).get("simulated")
        ),
    }
    return topo, doc
