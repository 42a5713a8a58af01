"""One `aictl accept run`: facts, plan, stages, localization, verdict, summary — resumable.

`start` creates the run (reads each node's GPU-NIC affinity, plans the units, stores the plan
and a snapshot of the cluster plan) or opens the one to resume; `run` executes what is left
and judges; `reanalyse` judges a stored run again. Everything reaches nodes through an
executor, so the whole session runs against a fake in unit tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aictl.accept import plan as planmod
from aictl.accept import runner, verdict
from aictl.accept.expect import Expectations, expectations
from aictl.accept.model import Judgement, RunPlan, Stage, UnitResult
from aictl.accept.store import RunStore
from aictl.errors import RunError
from aictl.facts.gpu import parse_topo
from aictl.natsort import natural_key
from aictl.status import Status

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from aictl.events import Progress
    from aictl.remote import Target
    from aictl.remote.executor import Executor
    from aictl.topology.model import Topology


def gpu_for_rail(
    topo: Topology, hosts: list[Target], executor: Executor
) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """Per node, the GPU to use with each rail NIC: among the GPUs whose nearest NICs (from
    `nvidia-smi topo -m`) include the rail's device, the spec's pairing first, else the lowest
    index. Falls back to the spec's pairing (and says so) when topo -m cannot be read."""
    out: dict[str, tuple[int, ...]] = {}
    notes: dict[str, str] = {}
    nvidia = [t for t in hosts if topo.profile(t.name).gpu.vendor == "nvidia"]
    for t in hosts:
        if t not in nvidia:
            # amd-smi and npu-smi name no NIC nearest a GPU by RDMA device: the spec's
            # pairing (preflight checks the NUMA side of it)
            out[t.name] = topo.profile(t.name).spec_gpu_for_rail()
    for res in executor.run_all(nvidia, "nvidia-smi topo -m") if nvidia else ():
        prof = topo.profile(res.host)
        spec_pair = prof.spec_gpu_for_rail()
        if not res.ok:
            out[res.host] = spec_pair
            notes[res.host] = (
                f"topo -m not read ({res.error or f'exit {res.rc}'}): spec pairing used"
            )
            continue
        topo_m = parse_topo(res.stdout)
        chosen = []
        for nic in prof.rails:
            near = sorted(
                int(g) for g, devs in topo_m.nearest_nics.items() if nic.rdma_device in devs
            )
            near = [g for g in near if g < prof.gpu.count]
            pick = next((g for g in nic.gpus if g in near), near[0] if near else None)
            if pick is None:
                pick = spec_pair[nic.index]
                notes[res.host] = f"no GPU is near {nic.rdma_device} in topo -m: spec pairing used"
            chosen.append(pick)
        out[res.host] = tuple(chosen)
    return out, notes


def leaf_map(topo: Topology) -> dict[tuple[str, int], str]:
    """(node, rail) -> its plane-0 leaf, over each node's own fabric."""
    return {
        (n.name, r): n.leaf_ports[r][0] for n in topo.nodes for r in range(topo.fabric_of(n).rails)
    }


def start(
    topo: Topology,
    targets: list[Target],
    executor: Executor,
    build: Path,
    *,
    suite: str,
    launcher: str,
    resume: str | None,
) -> tuple[RunStore, RunPlan]:
    """Create the run (facts + plan) or open the one to resume."""
    runs = build / "runs"
    if resume:
        store = RunStore.open(runs, resume)
        plan = store.plan()
        if plan.cluster != topo.name:
            raise RunError(f"{store.root} belongs to cluster {plan.cluster!r}, not {topo.name!r}")
        return store, plan
    if not targets:
        raise RunError("no nodes to test")
    exp = expectations(topo)
    gpus, notes = gpu_for_rail(topo, targets, executor)
    hosts = sorted((t.name for t in targets), key=natural_key)
    units = planmod.build(topo, hosts, gpus, suite=suite, reference_bytes=exp.reference_bytes)
    store = RunStore.create(runs)
    plan = RunPlan(
        run_id=store.id,
        cluster=topo.name,
        spec_sha256=topo.spec_sha256,
        suite=suite,
        launcher=launcher,
        hosts=tuple(hosts),
        expectations=exp.as_dict(),
        gpu_for_rail=gpus,
        facts_notes=notes,
        units=tuple(units),
    )
    store.write_snapshot(topo)
    store.write_plan(plan)
    return store, plan


def _summary(
    store: RunStore, plan: RunPlan, results: list[UnitResult], judged: Judgement
) -> dict[str, Any]:
    return {
        "kind": "aictl.accept.summary",
        "run_id": store.id,
        "run_dir": str(store.root),
        "cluster": plan.cluster,
        "suite": plan.suite,
        "launcher": plan.launcher,
        "simulated": any(r.simulated for r in results),
        "units": {
            "planned": len(plan.all_units()),
            "ran": len(results),
            "by_status": {s.value: sum(1 for r in results if r.status is s) for s in Status},
        },
        "expectations": plan.expectations,
        **judged.as_json(),
    }


def run(
    topo: Topology,
    store: RunStore,
    plan: RunPlan,
    targets: list[Target],
    executor: Executor,
    *,
    login: str | None = None,
    slurm_mpi: str | None = None,
    crds: Path | None = None,
    timeout: int = 600,
    forks: int = 64,
    progress: Callable[[Progress], None] | None = None,
    server_head_start: float = 1.0,
) -> dict[str, Any]:
    """Run what is left of the plan, localize, judge; returns (and saves) the summary."""
    exp = Expectations.read(plan.expectations, plan.hosts)
    by_name = {t.name: t for t in targets}
    missing = [h for h in plan.hosts if h not in by_name]
    if missing:
        raise RunError(
            f"the run covers {', '.join(missing)}, which --limit leaves out",
            hint="resume with the same --limit",
        )
    ctx = runner.Context(
        topo=topo,
        targets={h: by_name[h] for h in plan.hosts},
        executor=executor,
        store=store,
        expect=exp,
        launcher=plan.launcher,
        login=login,
        slurm_mpi=slurm_mpi,
        crds=crds,
        timeout=timeout,
        forks=forks,
        progress=progress,
        server_head_start=server_head_start,
    )
    done = {r.id: r for r in store.results()}
    before_confirm = [u for u in plan.units if u.stage in (Stage.NODE, Stage.PAIR)]
    total = len(plan.all_units())
    runner.execute(ctx, before_confirm, done, total)
    if not plan.confirm_planned:
        from dataclasses import replace

        confirm = runner.confirm_units(ctx, list(done.values()), plan.gpu_for_rail)
        plan = replace(plan, confirm_units=tuple(confirm), confirm_planned=True)
        store.write_plan(plan)
        total = len(plan.all_units())
    runner.execute(ctx, list(plan.confirm_units), done, total)
    runner.execute(ctx, [u for u in plan.units if u.stage is Stage.CLUSTER], done, total)
    results = [done[u.id] for u in plan.all_units() if u.id in done]
    judged = verdict.judge(plan, results, exp, leaf_of=leaf_map(topo))
    summary = _summary(store, plan, results, judged)
    store.write_summary(summary)
    return summary


def reanalyse(topo: Topology, store: RunStore) -> dict[str, Any]:
    """The verdict of a stored run from its results alone (`aictl accept localize`)."""
    plan = store.plan()
    exp = Expectations.read(plan.expectations, plan.hosts)
    judged = verdict.judge(plan, store.results(), exp, leaf_of=leaf_map(topo))
    return {"run_id": store.id, "run_dir": str(store.root), **judged.as_json()}
