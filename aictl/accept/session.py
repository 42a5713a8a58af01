"""One `aictl accept run`: facts, plan, stages, localization, verdict, summary — resumable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aictl.accept import plan as planmod
from aictl.accept import runner, verdict
from aictl.accept.expect import expectations
from aictl.accept.plan import Unit
from aictl.accept.store import RunError, RunStore
from aictl.checks.parse_gpu import parse_topo
from aictl.natsort import natural_key

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from aictl.remote import SshOptions, Target
    from aictl.topology.model import Topology

SCHEMA_VERSION = 1


def gpu_for_rail(
    topo: Topology, hosts: list[Target], opts: SshOptions
) -> tuple[dict[str, list[int]], dict[str, str]]:
    """Per node, the GPU to use with each rail NIC: among the GPUs whose nearest NICs (from
    `nvidia-smi topo -m`) include the rail's device, the spec's pairing first, else the lowest
    index. Falls back to the spec's pairing (and says so) when topo -m cannot be read."""
    from aictl.remote import run_all

    prof = topo.spec.node_profiles[topo.nodes[0].profile]
    rails = prof.compute_nics.rails
    spec_pair = [(r.gpus[0] if r.gpus else i) for i, r in enumerate(rails)]
    out: dict[str, list[int]] = {}
    notes: dict[str, str] = {}
    for res in run_all(hosts, "nvidia-smi topo -m", opts):
        if not res.ok:
            out[res.host] = spec_pair
            notes[res.host] = (
                f"topo -m not read ({res.error or f'exit {res.rc}'}): spec pairing used"
            )
            continue
        topo_m = parse_topo(res.stdout)
        nearest = topo_m.get("nearest_nics", {})
        chosen = []
        for i, nic in enumerate(rails):
            near = sorted((int(g) for g, devs in nearest.items() if nic.rdma_device in devs))
            pick = next((g for g in nic.gpus if g in near), near[0] if near else spec_pair[i])
            if not near:
                notes[res.host] = f"no GPU is near {nic.rdma_device} in topo -m: spec pairing used"
            chosen.append(pick)
        out[res.host] = chosen
    return out, notes


def leaf_map(topo: Topology) -> dict[tuple[str, int], str]:
    return {(n.name, r): n.leaf_ports[r][0] for n in topo.nodes for r in range(topo.rails)}


def start(
    topo: Topology,
    targets: list[Target],
    opts: SshOptions,
    build: Path,
    *,
    suite: str,
    launcher: str,
    resume: str | None,
) -> tuple[RunStore, dict[str, Any]]:
    """Create the run (facts + plan) or open the one to resume."""
    runs = build / "runs"
    if resume:
        store = RunStore.open(runs, resume)
        plan = store.plan()
        if plan.get("cluster") != topo.name:
            raise RunError(
                f"{store.root} belongs to cluster {plan.get('cluster')!r}, not {topo.name!r}"
            )
        return store, plan
    if not targets:
        raise RunError("no nodes to test")
    exp = expectations(topo)
    gpus, notes = gpu_for_rail(topo, targets, opts)
    hosts = sorted((t.name for t in targets), key=natural_key)
    units = planmod.build(topo, hosts, gpus, suite=suite, reference_bytes=exp.reference_bytes)
    store = RunStore.create(runs)
    plan = {
        "schema_version": SCHEMA_VERSION,
        "run_id": store.id,
        "cluster": topo.name,
        "spec_sha256": topo.spec_sha256,
        "suite": suite,
        "launcher": launcher,
        "hosts": hosts,
        "expectations": exp.as_dict(),
        "gpu_for_rail": gpus,
        "facts_notes": notes,
        "units": [u.as_dict() for u in units],
        "confirm_units": [],
    }
    store.write_plan(plan)
    return store, plan


def run(
    topo: Topology,
    store: RunStore,
    plan: dict[str, Any],
    targets: list[Target],
    opts: SshOptions,
    *,
    login: str | None = None,
    crds: Path | None = None,
    timeout: int = 600,
    forks: int = 64,
    progress: Callable[[dict[str, Any], int, int], None] | None = None,
) -> dict[str, Any]:
    """Run what is left of the plan, localize, judge; returns (and saves) the summary."""
    exp = expectations(topo)
    by_name = {t.name: t for t in targets}
    missing = [h for h in plan["hosts"] if h not in by_name]
    if missing:
        raise RunError(
            f"the run covers {', '.join(missing)}, which --limit leaves out",
            hint="resume with the same --limit",
        )
    ctx = runner.Context(
        topo=topo,
        targets={h: by_name[h] for h in plan["hosts"]},
        opts=opts,
        store=store,
        expect=exp,
        launcher=plan["launcher"],
        login=login,
        crds=crds,
        timeout=timeout,
        forks=forks,
        progress=progress,
    )
    done = {r["id"]: r for r in store.results()}
    units = [Unit.from_dict(u) for u in plan["units"]]
    confirm = [Unit.from_dict(u) for u in plan.get("confirm_units", [])]
    before_confirm = [u for u in units if u.stage in ("node", "pair")]
    total = len(units) + len(confirm)
    runner.execute(ctx, before_confirm, done, total)
    if not plan.get("confirm_planned"):
        confirm, _low = runner.confirm_units(ctx, list(done.values()), plan["gpu_for_rail"])
        plan["confirm_units"] = [u.as_dict() for u in confirm]
        plan["confirm_planned"] = True
        store.write_plan(plan)
        total = len(units) + len(confirm)
    runner.execute(ctx, confirm, done, total)
    runner.execute(ctx, [u for u in units if u.stage == "cluster"], done, total)
    results = [done[u["id"]] for u in plan["units"] + plan["confirm_units"] if u["id"] in done]
    judged = verdict.judge(plan, results, exp, leaf_of=leaf_map(topo))
    summary = {
        "schema_version": SCHEMA_VERSION,
        "run_id": store.id,
        "run_dir": str(store.root),
        "cluster": topo.name,
        "suite": plan["suite"],
        "launcher": plan["launcher"],
        "simulated": any(r.get("simulated") for r in results),
        "units": {
            "planned": len(plan["units"]) + len(plan["confirm_units"]),
            "ran": len(results),
            "by_status": {
                s: sum(1 for r in results if r["status"] == s)
                for s in ("ok", "failed", "error", "skipped")
            },
        },
        "expectations": exp.as_dict(),
        **judged,
    }
    store.write_summary(summary)
    return summary


def reanalyse(topo: Topology, store: RunStore) -> dict[str, Any]:
    """The verdict of a stored run from its results alone (`aictl accept localize`)."""
    plan = store.plan()
    exp = expectations(topo)
    results = store.results()
    return {
        "run_id": store.id,
        "run_dir": str(store.root),
        **verdict.judge(plan, results, exp, leaf_of=leaf_map(topo)),
    }
