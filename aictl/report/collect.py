"""Everything a report shows, gathered from the build directory into one JSON-able document.

Inputs (each optional but the plan): the plan (`topology.json` and `spec.resolved.json`, read
back by aictl/topology/snapshot.py; a run directory carries its own copy), `check.json`
(preflight), `verify.json` (fabric), and one acceptance run (`runs/<id>/`: plan.json,
results.jsonl, summary.json), each read through the stage that wrote it. Raw tool outputs are
never copied into a report, and nothing from an environment block is; the report says whether
its numbers are simulated.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from aictl.errors import UsageError
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from pathlib import Path

    from aictl.topology.model import Topology

SCHEMA_VERSION = 2


def locate(path: Path) -> tuple[Path, Path | None]:
    """(build dir, run dir or None) from a run directory or a build directory."""
    if (path / "plan.json").exists() and (path / "results.jsonl").exists():
        return path.parent.parent, path
    if (path / "spec.resolved.json").exists() or (path / "runs").is_dir():
        runs = sorted(
            (p for p in (path / "runs").glob("run-*") if (p / "summary.json").exists()),
            key=lambda p: natural_key(p.name),
        )
        return path, (runs[-1] if runs else None)
    raise UsageError(
        f"{path}: neither a run directory (runs/<id>/) nor a build directory",
        hint="aictl report build/<cluster> (after aictl topo plan), or one of its runs/<id>",
    )


def _plan(build: Path, run: Path | None) -> tuple[Topology, dict[str, Any]]:
    """The plan (a run's own snapshot first) and its summary, BOM and cabling excerpt."""
    from aictl.topology.analysis import path_classes, summary
    from aictl.topology.exports.cabling import render_bom, render_cabling
    from aictl.topology.snapshot import load_plan

    source = run if run is not None and (run / "topology.json").exists() else build
    topo = load_plan(source)
    bom = list(csv.DictReader(io.StringIO(render_bom(topo))))
    cabling = list(csv.DictReader(io.StringIO(render_cabling(topo))))
    return topo, {
        "summary": summary(topo),
        "path_classes": path_classes(topo),
        "bom": bom,
        "cabling_excerpt": cabling[:12],
        "cables": len(cabling),
    }


def _groups(topo: Topology) -> list[dict[str, Any]]:
    """The node groups: each profile in use, what it has, its nodes."""
    from aictl.natsort import compress_hostlist

    out = []
    for name, nodes in topo.groups().items():
        p = topo.profiles[name]
        info = p.vendor
        ports = ", ".join(p.rdma_devices) if p.host_rails else f"{info.accelerator} ports"
        out.append(
            {
                "name": name,
                "system": p.system,
                "nodes": len(nodes),
                "hosts": compress_hostlist([n.name for n in nodes]),
                "vendor": info.label,
                "gpus": f"{p.gpu.count} x {p.gpu.model}",
                "scale_up": info.scale_up_label if p.gpu.scale_up != "pcie" else "PCIe",
                "scale_up_gbytes": p.gpu.scale_up_gbytes,
                "nvswitch": p.gpu.nvswitch,
                "fabric": p.fabric,
                "domain": topo.domain_of(nodes[0]),
                "rails": f"{len(p.rails)} x {p.nic_gbps} Gb/s ({ports})",
            }
        )
    return out


def _vendors(topo: Topology) -> list[dict[str, Any]]:
    """The per-vendor table: each vendor in the plan, its tools and what acceptance runs."""
    seen: dict[str, list[str]] = {}
    for name in topo.groups():
        seen.setdefault(topo.profiles[name].gpu.vendor, []).append(name)
    out = []
    for vendor_name, groups in seen.items():
        info = topo.profiles[groups[0]].vendor
        out.append(
            {
                "vendor": info.label,
                "groups": groups,
                "inventory": info.smi,
                "scale_up": info.scale_up_label,
                "collective": info.collective,
                "benchmark": info.benchmark,
                "probe": info.probe,
                "k8s_resource": info.k8s_resource,
                "stack": list(info.stack),
                "name": vendor_name,
            }
        )
    return out


def _acceptance(run: Path) -> dict[str, Any]:
    from aictl.accept.model import Kind, Stage
    from aictl.accept.store import RunStore

    store = RunStore(run)
    plan = store.plan()
    results = store.results()
    summary = store.summary() or {}
    judged = store.judgement()
    from aictl.accept.expect import Expectations

    exp = summary.get("expectations") or plan.expectations
    judge = Expectations.read(exp, plan.hosts)
    curves: dict[str, Any] = {}
    for r in results:
        if r.stage is Stage.CLUSTER and r.rows:
            # `all_reduce`, or `<domain>/all_reduce` when each domain ran its own
            curves[r.id.removeprefix("cluster/")] = {
                "nodes": len(r.hosts),
                "points": [[p.size_bytes, p.busbw_gbps] for p in r.rows],
                "min": r.expected_min,
                "peak": judge.busbw_peak(r.collective or "all_reduce", r.hosts),
                "status": r.status.value,
            }
    rails = list(range(int(exp.get("rails", 0))))
    heat: dict[str, dict[str, float | None]] = {
        h: {f"rail {r}": None for r in rails} for h in plan.hosts
    }
    gdr: dict[str, dict[str, Any]] = {h: {} for h in plan.hosts}
    node_nccl: dict[str, Any] = {}
    for r in results:
        if r.kind is Kind.GDR and r.stage in (Stage.PAIR, Stage.CONFIRM) and r.value is not None:
            for h in r.hosts:
                key = f"rail {r.rail}"
                cur = heat[h].get(key)
                heat[h][key] = r.value if cur is None else min(cur, r.value)
        if r.stage is Stage.NODE and r.kind is Kind.PORT:
            cell = gdr[r.hosts[0]].setdefault(str(r.rail), {})
            cell["port_status"] = r.status.value
        if r.stage is Stage.NODE and r.kind in (Kind.GDR, Kind.HOST):
            cell = gdr[r.hosts[0]].setdefault(str(r.rail), {})
            if r.kind is Kind.GDR:
                cell["gpu"] = r.gpus[0] if r.gpus else None
            cell[f"{r.kind.value}_gbps"] = r.value
            cell[f"{r.kind.value}_status"] = r.status.value
        if r.stage is Stage.NODE and r.kind is Kind.NCCL:
            node_nccl[r.hosts[0]] = {"busbw": r.value, "status": r.status.value}
    verdict = judged.as_json() if judged else {}
    return {
        "run_id": plan.run_id,
        "suite": plan.suite,
        "launcher": plan.launcher,
        "hosts": list(plan.hosts),
        "verdict": verdict.get("verdict", "incomplete"),
        "criteria": verdict.get("criteria", []),
        "suspects": verdict.get("suspects", []),
        "low_pairs": verdict.get("low_pairs", []),
        "domains": verdict.get("domains", []),
        "units": summary.get("units", {}),
        "expectations": exp,
        "gpu_for_rail": {h: list(g) for h, g in plan.gpu_for_rail.items()},
        "gdr_floor": {h: judge.gdr_min_gbps([h]) for h in plan.hosts},
        "node_group": {h: judge.node_group.get(h, "") for h in plan.hosts},
        "curves": curves,
        "heatmap": heat,
        "gdr_matrix": gdr,
        "node_nccl": node_nccl,
        "results": [
            {
                "id": r.id,
                "stage": r.stage.value,
                "kind": r.kind.value,
                "hosts": list(r.hosts),
                "rail": r.rail,
                "collective": r.collective,
                "status": r.status.value,
                "value": r.value,
                "unit": r.unit,
                "failure": r.failure.as_json() if r.failure else None,
                "groups": list(r.groups),
                "note": r.note,
            }
            for r in results
        ],
        "simulated": bool(summary.get("simulated")) or any(r.simulated for r in results),
    }


_STACK = ("driver", "cuda", "rocm", "cann", "firmware")


def _versions(run: Path | None, check: dict[str, Any] | None) -> dict[str, list[str]]:
    """Versions seen: the stack preflight read per node (by vendor when the cluster has
    several: an NVIDIA driver and an Ascend driver are not one column), OFED, and the
    benchmarks' own (nccl-tests and NCCL, rccl-tests) from the run's raw outputs."""
    import re

    from aictl.topology.vendors import vendor

    nodes = ((check or {}).get("versions") or {}).values()
    several = len({v.get("vendor", "nvidia") for v in nodes}) > 1
    seen: dict[str, set[str]] = {"driver": set(), "ofed": set(), "nccl-tests": set(), "nccl": set()}
    for v in nodes:
        label = vendor(v.get("vendor", "nvidia")).label
        for k in _STACK:
            if v.get(k):
                seen.setdefault(f"{k} ({label})" if several else k, set()).add(v[k])
        if v.get("ofed"):
            seen["ofed"].add(v["ofed"])
    if several:
        seen.pop("driver", None)
    if run is not None:
        for f in sorted((run / "raw").glob("*nccl*")):
            text = f.read_text(errors="replace")[:4000]
            if m := re.search(
                r"# nccl-tests version (\S+) nccl-headers=\d+ nccl-library=(\d+)", text
            ):
                seen["nccl-tests"].add(m.group(1))
                lib = int(m.group(2))
                seen["nccl"].add(f"{lib // 10000}.{lib // 100 % 100}.{lib % 100}")
            if m := re.search(r"^rccl-tests: Version (\S+)", text, re.M):
                seen.setdefault("rccl-tests", set()).add(m.group(1))
    return {k: sorted(v) for k, v in seen.items()}


def _scheduler(build: Path) -> dict[str, Any] | None:
    """The scheduler actions aictl took (actions.jsonl): the latest 100, and the nodes the
    log says aictl holds drained now."""
    from aictl.sched.actions import read
    from aictl.sched.model import ActionKind

    acts = read(build)
    if not acts:
        return None
    held: dict[str, str] = {}
    for a in acts:
        if a.kind is ActionKind.drain:
            held[a.node] = a.reason
        elif a.kind is ActionKind.undrain:
            held.pop(a.node, None)
    return {
        "actions": [a.as_json() for a in acts[-100:]],
        "total": len(acts),
        "drained": {n: held[n] for n in sorted(held, key=natural_key)},
    }


def collect(
    build: Path, *, run: Path | None = None, plan_only: bool = False
) -> tuple[Topology, dict[str, Any]]:
    """(topology, report document) for a build directory and one of its runs."""
    from aictl.checks.preflight import PreflightReport
    from aictl.fabric.verify import VerifyReport

    topo, plan = _plan(build, run)
    check_rep = None if plan_only else PreflightReport.load(build / "check.json")
    verify_rep = None if plan_only else VerifyReport.load(build / "verify.json")
    check = check_rep.as_json() if check_rep else None
    verify = verify_rep.as_json() if verify_rep else None
    acceptance = _acceptance(run) if run is not None else None
    flagged = {s["node"] for s in (acceptance or {}).get("suspects", []) if "node" in s}
    flagged |= set((check or {}).get("failing", {}))
    links = [s for s in (acceptance or {}).get("suspects", []) if "link" in s]
    scheduler = None if plan_only else _scheduler(build)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "kind": "aictl.report",
        "cluster": topo.name,
        "spec_sha256": topo.spec_sha256,
        "plan": plan,
        "groups": _groups(topo),
        "vendors": _vendors(topo),
        "preflight": check,
        "verify": verify,
        "acceptance": acceptance,
        "versions": _versions(run, check),
        "flagged_nodes": sorted(flagged, key=natural_key),
        "flagged_links": links,
        "scheduler": scheduler,
        "simulated": bool(
            (acceptance or {}).get("simulated")
            or (check or {}).get("simulated")
            or (verify or {}).get("simulated")
        ),
    }
    return topo, doc
