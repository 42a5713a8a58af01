"""The planned fabric on the real tools: ibsim loads the net file, opensm routes it with
ftree, and infiniband-diags discover exactly the plan (lab-small and the a800-200 seed)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from aictl.fabric.diff import compare
from aictl.fabric.routing import check_routing
from aictl.facts.ibnet import parse_ibnetdiscover, parse_lfts, parse_opensm_log
from aictl.spec.loader import load_preset
from aictl.topology import build_topology, write_plan
from aictl.topology.model import Topology
from tests.conftest import require_tools
from tests.integration._ibsim import ibsim, run_sim

pytestmark = pytest.mark.ibsim


def _plan(name: str, out: Path) -> Topology:
    loaded = load_preset(name)
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    write_plan(topo, out, picture=False)
    return topo


@pytest.mark.parametrize("preset", ["lab-small", "a800-200"])
def test_ibsim_loads_and_opensm_routes_with_ftree(preset: str, tmp_path: Path) -> None:
    require_tools("ibsim", "ibsim-run", "opensm", "ibnetdiscover", "ibtracert")
    out = tmp_path / preset
    topo = _plan(preset, out)
    ex = out / "exports"
    work = tmp_path / "osm"
    work.mkdir()
    with ibsim(ex / "ibsim.net", work) as env:
        subprocess.run(
            ["opensm", "-c", str(work / "opensm.conf")], env=env, capture_output=True, check=False
        )
        log = work / "opensm.log"
        run_sim(
            [
                "opensm",
                "-F",
                str(work / "opensm.conf"),
                "-o",
                "-s",
                "0",
                "-D",
                "0x07",
                "-f",
                str(log),
                "-R",
                "ftree",
                "-a",
                str(ex / "ftree-roots.guids"),
                "-u",
                str(ex / "ftree-cns.guids"),
            ],
            env,
        )
        text = log.read_text()
        assert "ftree tables configured on all switches" in text
        assert "SUBNET UP" in text
        assert "falling back" not in text.lower() and "fallback" not in text.lower()
        disc = run_sim(["ibnetdiscover"], env)
        cas = re.findall(r'^Ca\s+\d+\s+"[^"]+"\s+# "([^"]+)"', disc, re.M)
        switches = re.findall(r'^Switch\s+\d+\s+"[^"]+"\s+# "([^"]+)"', disc, re.M)
        want_cas = {f"{n.name} mlx5_{r}" for n in topo.nodes for r in range(topo.rails)}
        assert set(cas) == want_cas
        assert sorted(switches) == sorted(
            s.name for s in topo.switches if s.role in ("leaf", "spine", "core")
        )
        # aictl's own verification on the real tools' output: exactly the plan, ftree spreads a
        # cross-SU shift permutation one flow per leaf uplink
        fab = parse_ibnetdiscover(disc)
        assert compare(topo, fab)["findings"] == []
        lfts = parse_lfts(run_sim(["dump_fts"], env)).tables
        routing = check_routing(topo, fab, lfts, opensm_log=parse_opensm_log(text))
        assert routing["findings"] == [] and routing["engine"] == "ftree"
        assert routing["shift_pairs"] == len(topo.nodes) * topo.rails
        assert routing["uplink_flows_max"] == 1 and routing["local_violations"] == 0
        ports = run_sim(["ibnetdiscover", "-p"], env)
        lid = {
            m.group(2): m.group(1)
            for m in re.finditer(r"^CA\s+(\d+)\s+\d+\s+\S+\s+.*\(\s*'([^']+)'", ports, re.M)
        }
        first, other_su = topo.nodes[0], next(n for n in topo.nodes if n.su == 2)
        same_leaf = topo.nodes[1]
        one = run_sim(
            ["ibtracert", lid[f"{first.name} mlx5_0"], lid[f"{same_leaf.name} mlx5_0"]], env
        )
        assert "spine" not in one and "leaf-su01-r0" in one  # same rail, same leaf: 1 switch
        cross = run_sim(
            ["ibtracert", lid[f"{first.name} mlx5_0"], lid[f"{other_su.name} mlx5_0"]], env
        )
        assert "spine" in cross  # same rail, other SU: via a spine
