"""Topology-aware scheduler exports: Slurm topology.conf (tree, block) and topology.yaml read
by a parser written from the grammar of topology.conf(5) and topology.yaml(5); the Kubernetes
objects validated against the upstream CRDs (../shared/schemas) and held to the rules the CRDs
state in CEL, which JSON Schema cannot check; and every export drawn from one hierarchy."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from aictl.artifact import Artifact
from aictl.render import render_all
from aictl.render.validate.k8s import check_crds
from aictl.spec.loader import load_preset, parse_spec_text, preset_names, preset_text
from aictl.topology import build_topology
from aictl.topology.exports import render_exports
from aictl.topology.exports.hierarchy import Unit, block_plan, hierarchy
from aictl.topology.exports.labels import node_labels
from aictl.topology.model import Topology
from tests.conftest import require_shared

# ---- the grammar of topology.conf(5) and topology.yaml(5), as a test oracle ----------------


def expand(hostlist: str) -> list[str]:
    """Slurm hostlist expression -> names: `a[01-03,7],b` -> a01 a02 a03 a7 b."""
    out: list[str] = []
    for m in re.finditer(r"([^,\[]+)(?:\[([^\]]+)\])?(?:,|$)", hostlist):
        prefix, ranges = m.group(1), m.group(2)
        if ranges is None:
            out.append(prefix)
            continue
        for part in ranges.split(","):
            lo, _, hi = part.partition("-")
            width = len(lo)
            for i in range(int(lo), int(hi or lo) + 1):
                out.append(f"{prefix}{i:0{width}d}")
    return out


def parse_conf(text: str) -> list[dict[str, str]]:
    """topology.conf: one record per line of Key=Value pairs; keys are case insensitive
    (lower-cased here), '#' starts a comment to the end of the line."""
    records = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        rec = {}
        for pair in line.split():
            key, sep, value = pair.partition("=")
            assert sep and value, f"not Key=Value: {pair!r} in {raw!r}"
            assert key.lower() not in rec, f"{key} twice in {raw!r}"
            rec[key.lower()] = value
        records.append(rec)
    return records


def check_tree(
    records: list[dict[str, str]], nodes: set[str], roots_wanted: int = 1
) -> dict[str, str]:
    """topology/tree: SwitchName (unique, at most 64 characters) with Nodes or Switches (and an
    optional LinkSpeed); every node under a leaf; one root joining every switch of a compute
    fabric (a plan of several fabrics: one root each, never joined). Returns each node's leaf
    switch."""
    switches: dict[str, dict[str, str]] = {}
    for rec in records:
        assert set(rec) <= {"switchname", "nodes", "switches", "linkspeed"}, rec
        name = rec["switchname"]
        assert len(name) <= 64 and name not in switches, name
        assert ("nodes" in rec) != ("switches" in rec), rec
        switches[name] = rec
    leaf_of: dict[str, str] = {}
    parent: dict[str, str] = {}
    for name, rec in switches.items():
        for n in expand(rec.get("nodes", "")) if "nodes" in rec else []:
            assert n not in leaf_of, f"{n} under two leaves"
            leaf_of[n] = name
        for child in expand(rec["switches"]) if "switches" in rec else []:
            assert child in switches, f"{name} names an unknown switch {child}"
            assert child not in parent, f"{child} has two parents"
            parent[child] = name
    assert set(leaf_of) == nodes
    roots = [s for s in switches if s not in parent]
    assert len(roots) == roots_wanted, roots
    return leaf_of


def check_blocks(blocks: list[tuple[str, list[str]]], sizes: list[int], nodes: set[str]) -> None:
    """topology/block: unique block names; the first size is the base, every block holds at
    least the base; each further size is the base times a power of two, larger than the one
    before, at most 15 doublings; no node in two blocks."""
    names = [b for b, _ in blocks]
    assert len(names) == len(set(names))
    base = sizes[0]
    assert base > 0
    for b, members in blocks:
        assert len(members) >= base, f"{b}: {len(members)} nodes, base {base}"
    for prev, size in itertools.pairwise(sizes):
        assert size > prev and size % base == 0
        q = size // base
        assert q & (q - 1) == 0 and q <= 2**15
    seen = [n for _, members in blocks for n in members]
    assert len(seen) == len(set(seen)) and set(seen) <= nodes
    # Slurm stops aggregating at the first level that holds every block: no level beyond it
    assert sizes[-1] // base >= len(blocks) > sizes[-1] // base // 2 or len(sizes) == 1


def parse_block_conf(text: str) -> tuple[list[tuple[str, list[str]]], list[int]]:
    blocks: list[tuple[str, list[str]]] = []
    sizes: list[int] = []
    for rec in parse_conf(text):
        if "blocksizes" in rec:
            assert set(rec) == {"blocksizes"} and not sizes
            sizes = [int(s) for s in rec["blocksizes"].split(",")]
            continue
        assert set(rec) == {"blockname", "nodes"}, rec
        blocks.append((rec["blockname"], expand(rec["nodes"])))
    return blocks, sizes


def check_topology_yaml(text: str, nodes: set[str], roots: int = 1) -> dict[str, dict[str, Any]]:
    """topology.yaml(5): a list of topologies; `topology` (unique) is the first attribute;
    exactly one of block, flat, tree; the first with cluster_default true is the default."""
    doc = yaml.safe_load(text)
    assert isinstance(doc, list) and doc
    out: dict[str, dict[str, Any]] = {}
    for entry in doc:
        assert next(iter(entry)) == "topology"
        assert entry["topology"] not in out
        kinds = [k for k in ("block", "flat", "tree") if k in entry]
        assert len(kinds) == 1, entry
        assert set(entry) <= {"topology", "cluster_default", *kinds}
        if "tree" in entry:
            assert set(entry["tree"]) == {"switches"}
            recs = []
            for sw in entry["tree"]["switches"]:
                assert set(sw) <= {"switch", "children", "nodes"} and "switch" in sw
                rec = {"switchname": sw["switch"]}
                if "nodes" in sw:
                    rec["nodes"] = sw["nodes"]
                if "children" in sw:
                    rec["switches"] = sw["children"]
                recs.append(rec)
            check_tree(recs, nodes, roots)
        if "block" in entry:
            assert set(entry["block"]) == {"block_sizes", "blocks"}
            blocks = []
            for b in entry["block"]["blocks"]:
                assert set(b) == {"block", "nodes"}
                blocks.append((b["block"], expand(b["nodes"])))
            check_blocks(blocks, entry["block"]["block_sizes"], nodes)
        out[entry["topology"]] = entry
    assert next(e for e in doc if e.get("cluster_default"))["topology"] == "tree"
    return out


# ---- plans ----------------------------------------------------------------------------------


@cache
def plan(name: str) -> Topology:
    loaded = load_preset(name)
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


def plan_text(text: str) -> Topology:
    loaded = parse_spec_text(text, "t.yaml")
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


def exports(topo: Topology) -> dict[str, str]:
    return {a.path: a.data.decode() for a in render_exports(topo, picture=False)}


def short_last_su(nodes: int) -> Topology:
    """lab-small (SUs of 4 nodes) with `nodes` nodes: the last SU short when not a multiple."""
    text = preset_text("lab-small")
    assert "  count: 8\n" in text
    return plan_text(text.replace("  count: 8\n", f"  count: {nodes}\n", 1))


# ---- Slurm ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", preset_names())
def test_slurm_files_follow_the_man_page_grammar(name: str) -> None:
    topo = plan(name)
    files = exports(topo)
    nodes = {n.name for n in topo.nodes}
    roots = len(topo.fabrics)
    leaf_of = check_tree(parse_conf(files["exports/slurm-topology.conf"]), nodes, roots)
    # the tree's leaves are the SUs (named with their fabric's prefix in a plan of several)
    assert all(
        leaf_of[n.name] == f"{topo.fabric_of(n).prefix}su{n.su:02d}"
        for n in topo.nodes
        if topo.shape.sus < 100
    )
    blocks, sizes = parse_block_conf(files["exports/slurm-topology-block.conf"])
    check_blocks(blocks, sizes, nodes)
    assert [b for b, _ in blocks] == sorted({leaf_of[n] for _, m in blocks for n in m})
    topologies = check_topology_yaml(files["exports/slurm-topology.yaml"], nodes, roots)
    # topology.yaml says what the two topology.conf files say
    entry = topologies["block"]["block"]
    assert entry["block_sizes"] == sizes
    assert [(b["block"], expand(b["nodes"])) for b in entry["blocks"]] == blocks


def test_three_tiers_put_spine_pods_between_sus_and_the_fabric() -> None:
    files = exports(plan("h100-16k"))
    recs = {r["switchname"]: r for r in parse_conf(files["exports/slurm-topology.conf"])}
    assert expand(recs["fabric"]["switches"]) == ["pod01", "pod02"]
    assert expand(recs["pod02"]["switches"]) == [f"su{i}" for i in range(33, 65)]
    blocks, sizes = parse_block_conf(files["exports/slurm-topology-block.conf"])
    # 64 SUs of 32: the base and six doublings, the last one holding all 64 blocks
    assert sizes == [32 * 2**k for k in range(7)] and len(blocks) == 64


def test_a_partial_su_lowers_the_base_and_says_why() -> None:
    files = exports(plan("dgx-h100-127"))
    text = files["exports/slurm-topology-block.conf"]
    blocks, sizes = parse_block_conf(text)
    assert [len(m) for _, m in blocks] == [31, 32, 32, 32]
    assert sizes == [31, 62, 124]
    assert "partial SUs su01 (31) of 32 nodes" in text


def test_an_su_below_half_is_left_out_of_the_blocks_but_stays_in_the_tree() -> None:
    topo = short_last_su(5)  # su01: 4 nodes, su02: 1 node
    files = exports(topo)
    blocks, sizes = parse_block_conf(files["exports/slurm-topology-block.conf"])
    assert blocks == [("su01", ["node01", "node02", "node03", "node04"])] and sizes == [4]
    assert "su02 has 1 of 4 nodes, less than half an SU" in " ".join(
        files["exports/slurm-topology-block.conf"].replace("\n# ", " ").splitlines()
    )
    leaf_of = check_tree(
        parse_conf(files["exports/slurm-topology.conf"]),
        {"node05"} | {f"node0{i}" for i in range(1, 5)},
    )
    assert leaf_of["node05"] == "su02"
    # half an SU is enough: 4 + 2 nodes give two blocks over a base of 2
    blocks, sizes = parse_block_conf(exports(short_last_su(6))["exports/slurm-topology-block.conf"])
    assert [len(m) for _, m in blocks] == [4, 2] and sizes == [2, 4]


def test_block_plan_rules() -> None:
    units = tuple(Unit(f"su{i:02d}", tuple(f"n{i}-{j}" for j in range(8))) for i in range(1, 6))
    plan5 = block_plan(units, full=8)
    # five blocks: aggregated by 2, 4, 8 (the first level holding all five)
    assert plan5.base == 8 and plan5.sizes == (8, 16, 32, 64) and not plan5.notes
    one = block_plan(units[:1], full=8)
    assert one.sizes == (8,)
    pods = block_plan(units, full=8, sus_per_pod=3)
    assert any("not a power of two" in n for n in pods.notes)
    assert not block_plan(units, full=8, sus_per_pod=4).notes
    none = block_plan((Unit("su01", ("a",)),), full=8)
    assert none.blocks == () and none.sizes == ()


def test_several_node_groups_get_a_block_topology_each() -> None:
    topo = plan("mixed-lab")
    text = exports(topo)["exports/slurm-topology.yaml"]
    topologies = check_topology_yaml(text, {n.name for n in topo.nodes})
    assert set(topologies) == {"tree", "block", "block-hgx-a800", "block-hgx-h100-4gpu"}
    for group, members in topo.groups().items():
        entry = topologies[f"block-{group}"]["block"]
        got = [n for b in entry["blocks"] for n in expand(b["nodes"])]
        assert got == [n.name for n in members]
    assert "block-<group>" in exports(topo)["exports/slurm-topology-block.conf"]


# ---- Kubernetes -------------------------------------------------------------------------------


def docs_of(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("name", ["lab-small", "mixed-lab", "h100-16k", "roce-h100-256"])
def test_scheduler_objects_validate_against_the_upstream_crds(name: str) -> None:
    schemas = require_shared("schemas")
    files = exports(plan(name))
    arts = [
        Artifact(f"k8s/scheduler/{p.split('/')[-1]}", files[p].encode())
        for p in ("exports/volcano-hypernodes.yaml", "exports/kueue-topology.yaml")
    ]
    kai = files["exports/kai-topology.yaml"].encode()
    arts.append(Artifact("k8s/scheduler/kai-topology.yaml", kai))
    findings = []
    for sub, art in zip(
        ("volcano-v1.15.1", "kueue-v0.19.2", "kai-scheduler-v0.17.0"), arts, strict=True
    ):
        findings += check_crds([art], schemas / sub)
    assert findings and all(f.status == "ok" for f in findings), [
        (f.check, f.message) for f in findings if f.status != "ok"
    ]
    kinds = {f.check.split("/")[0] for f in findings}
    assert kinds == {"HyperNode", "Topology", "ResourceFlavor"}


@pytest.mark.parametrize("name", preset_names())
def test_hypernodes_form_a_tree_over_the_sus(name: str) -> None:
    """One HyperNode per SU with its nodes (tier 1), the tiers above over HyperNodes of the
    tier below, one root; no node or HyperNode is a member twice (Volcano's one-parent rule)."""
    topo = plan(name)
    docs = docs_of(exports(topo)["exports/volcano-hypernodes.yaml"])
    by_name = {d["metadata"]["name"]: d for d in docs}
    parent: dict[str, str] = {}
    for d in docs:
        spec = d["spec"]
        kinds = {m["type"] for m in spec["members"]}
        assert kinds == ({"Node"} if spec["tier"] == 1 else {"HyperNode"})
        for m in spec["members"]:
            assert set(m["selector"]) == {"exactMatch"}
            child = m["selector"]["exactMatch"]["name"]
            assert child not in parent, f"{child} has two parents"
            parent[child] = d["metadata"]["name"]
            if m["type"] == "HyperNode":
                assert by_name[child]["spec"]["tier"] == spec["tier"] - 1
    tier1 = [d for d in docs if d["spec"]["tier"] == 1]
    h = hierarchy(topo)
    assert [d["spec"]["tierName"] for d in tier1] == ["su"] * len(h.units)
    assert {n.name for n in topo.nodes} == {c for c in parent if c not in by_name}
    for n in topo.nodes:
        assert parent[n.name] == f"{topo.name}-{node_labels(topo)[n.name]['aictl.io/su']}"
    roots = [d for d in docs if d["metadata"]["name"] not in parent]
    assert len(roots) == 1 and roots[0]["spec"]["tierName"] == "fabric"
    assert roots[0]["spec"]["tier"] == (3 if h.pods else 2)


@pytest.mark.parametrize("name", preset_names())
def test_kueue_and_kai_levels_are_labels_aictl_sets_and_nest(name: str) -> None:
    """Levels coarsest first, hostname last and unique (the CRDs' CEL rules); every level but
    the hostname is a label every node carries; each domain lies in one domain above; the
    flavors select each node group exactly."""
    topo = plan(name)
    files = exports(topo)
    kueue = docs_of(files["exports/kueue-topology.yaml"])
    kai = docs_of(files["exports/kai-topology.yaml"])
    levels = [lv["nodeLabel"] for lv in kueue[0]["spec"]["levels"]]
    assert levels == [lv["nodeLabel"] for lv in kai[0]["spec"]["levels"]]
    assert levels[-1] == "kubernetes.io/hostname" and len(set(levels)) == len(levels)
    aliases = [lv["alias"] for lv in kai[0]["spec"]["levels"]]
    assert not set(aliases) & set(levels) and len(set(aliases)) == len(aliases)
    labels = node_labels(topo)
    for lv in levels[:-1]:
        assert all(lv in labels[n.name] for n in topo.nodes), lv
    for upper, lower in itertools.pairwise(levels[:-1]):
        seen: dict[str, str] = {}
        for n in topo.nodes:
            dom = labels[n.name][lower]
            assert seen.setdefault(dom, labels[n.name][upper]) == labels[n.name][upper]
    assert ("aictl.io/spine-pod" in levels) == bool(hierarchy(topo).pods)
    flavors = kueue[1:]
    assert [f["spec"]["topologyName"] for f in flavors] == [kueue[0]["metadata"]["name"]] * len(
        topo.groups()
    )
    for f, (group, members) in zip(flavors, topo.groups().items(), strict=True):
        sel = f["spec"]["nodeLabels"]
        picked = [n.name for n in topo.nodes if sel.items() <= labels[n.name].items()]
        assert picked == [n.name for n in members], group


def test_render_keeps_the_export_bytes_and_a_volcano_job_with_a_network_topology() -> None:
    topo = plan("lab-small")
    files = exports(topo)
    rendered = {a.path: a.data.decode() for a in render_all(topo, targets=["k8s"]).artifacts}
    for name in ("volcano-hypernodes.yaml", "kueue-topology.yaml", "kai-topology.yaml"):
        assert rendered[f"k8s/scheduler/{name}"] == files[f"exports/{name}"]
    job = yaml.safe_load(rendered["k8s/scheduler/volcano-nccl-job.yaml"])
    assert job["spec"]["networkTopology"] == {"mode": "hard", "highestTierAllowed": 1}
    tasks = {t["name"]: t for t in job["spec"]["tasks"]}
    assert tasks["mpiworker"]["replicas"] == 2 and job["spec"]["minAvailable"] == 3
    limits = tasks["mpiworker"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == 8 and len(limits) == 1 + topo.rails
    launcher = tasks["mpimaster"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "-np 16" in launcher and "NCCL_IB_HCA==mlx5_0:1" in launcher
    # the provisioning role applies k8s/[0-3][0-9]-*.yaml only: none of these
    assert not any(re.match(r"k8s/[0-3][0-9]-", p) for p in rendered if "scheduler/" in p)


def test_the_volcano_job_validates_and_missing_scheduler_crds_are_skipped() -> None:
    schemas = require_shared("schemas")
    arts = [
        a
        for a in render_all(plan("roce-h100-256"), targets=["k8s"]).artifacts
        if a.path.startswith("k8s/scheduler/")
    ]
    job = [a for a in arts if a.path.endswith("volcano-nccl-job.yaml")]
    found = check_crds(job, schemas / "volcano-v1.15.1")
    assert [(f.check.split("/")[0], f.status) for f in found] == [("Job", "ok")]
    # a cluster runs one scheduler: the others' objects are skipped, not failed
    found = check_crds(arts, schemas / "kueue-v0.19.2")
    status = sorted({(f.path.split("/")[-1], f.status) for f in found})
    assert status == [
        ("kai-topology.yaml", "skipped"),
        ("kueue-topology.yaml", "ok"),
        ("volcano-hypernodes.yaml", "skipped"),
        ("volcano-nccl-job.yaml", "skipped"),
    ]
    broken = Artifact(job[0].path, job[0].data.replace(b"mode: hard", b"mode: strict"))
    bad = check_crds([broken], schemas / "volcano-v1.15.1")
    assert bad[0].status == "error" and "strict" in bad[0].message


def test_the_yaml_writer_round_trips_what_a_yaml_reader_would_retype() -> None:
    from aictl.topology.exports.kube import dump_documents

    doc = {
        "plain": "node01",
        "words": ["yes", "No", "on", "null", "true", "1", "01", "1.5", "", "a: b", "x,y", "#c"],
        "labels": {"aictl.io/su": "su01", "needs quotes": "ok"},
        "n": 3,
        "flag": False,
        "empty": {},
        "none": [],
        "items": [{"a": 1, "b": {"c": "d"}}, {"long": "x" * 120}, [1, 2]],
    }
    text = dump_documents([doc, {"second": 2}], ["header", ""])
    assert text.startswith("# header\n#\n---\n")
    assert list(yaml.safe_load_all(text)) == [doc, {"second": 2}]
    assert "- {a: 1, b: {c: d}}" in text and "long:" in text


def test_a_60_character_cluster_name_gives_names_that_fit() -> None:
    from aictl.render.validate.k8s import check_names

    name = "gpu-cluster-" + "x" * 39 + "-rack-001"
    topo = plan_text(preset_text("lab-small").replace("name: lab-small", f"name: {name}", 1))
    arts = [
        a for a in render_all(topo, targets=["k8s"]).artifacts if a.path.startswith("k8s/sched")
    ]
    found = check_names(arts)
    # one finding per document: 3 HyperNodes, the Volcano Job, Topology and flavor, KAI
    assert len(found) == 3 + 1 + 2 + 1
    assert all(f.status == "ok" for f in found), [f.message for f in found if f.status != "ok"]
    job = next(a for a in arts if a.path.endswith("volcano-nccl-job.yaml"))
    meta = yaml.safe_load(job.data)["metadata"]["name"]
    assert len(f"{meta}-mpiworker-1") <= 63
    # the rule that says so catches the name a naive job would have
    long = job.data.replace(meta.encode(), f"{name}-nccl-volcano".encode())
    bad = check_names([Artifact(job.path, long)])
    assert bad[0].status == "error" and "mpiworker pod" in bad[0].message


@pytest.mark.parametrize("name", ["lab-small", "mixed-lab", "dgx-h100-127", "roce-h100-256"])
def test_hostlists_read_the_same_by_slurm_itself(name: str, tmp_path: Path) -> None:
    """Every hostlist of the Slurm files, expanded by Slurm's own parser (`scontrol show
    hostnames`, which needs only a slurm.conf to start), equals the test parser's reading."""
    scontrol = shutil.which("scontrol")
    if scontrol is None:
        pytest.skip("scontrol (Slurm's client) not installed")
    conf = tmp_path / "slurm.conf"
    conf.write_text(
        "ClusterName=t\nSlurmctldHost=localhost\nNodeName=n1\nPartitionName=p Nodes=n1\n"
    )
    files = exports(plan(name))
    lists: set[str] = set()
    for path in ("exports/slurm-topology.conf", "exports/slurm-topology-block.conf"):
        for rec in parse_conf(files[path]):
            lists |= {rec[k] for k in ("nodes", "switches") if k in rec}
    for entry in yaml.safe_load(files["exports/slurm-topology.yaml"]):
        for item in (entry.get("tree") or {}).get("switches", []) + (entry.get("block") or {}).get(
            "blocks", []
        ):
            lists |= {item[k] for k in ("nodes", "children") if k in item}
    assert lists
    for hl in sorted(lists):
        got = subprocess.run(
            [scontrol, "show", "hostnames", hl],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "SLURM_CONF": str(conf)},
            check=True,
        ).stdout.split()
        assert got == expand(hl), hl
