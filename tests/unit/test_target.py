"""Targets (how to reach a cluster), host selection, and the plan read back from the build
directory with its staleness check."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.errors import StaleBuildError, TargetError, UsageError
from aictl.spec.loader import load_preset
from aictl.target import (
    Address,
    ClusterTarget,
    hosts,
    load_target,
    parse_jump,
    select,
    ssh_options,
    with_overrides,
)
from aictl.topology import build_topology, write_plan
from aictl.topology.model import Topology
from aictl.topology.snapshot import load_plan


def _topo(name: str) -> Topology:
    loaded = load_preset(name)
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


def test_no_target_is_a_real_cluster_whatever_lies_in_the_build_dir(tmp_path: Path) -> None:
    build = tmp_path / "lab-small"
    # what a crashed lab leaves behind changes nothing without --target
    (build / "lab").mkdir(parents=True)
    (build / "lab" / "id_ed25519").write_text("key")
    ClusterTarget("lab-small", key=build / "lab" / "id_ed25519", name="lab").save(build)
    t = load_target(build, "lab-small", None)
    assert t == ClusterTarget("lab-small") and t.key is None and not t.extravars
    opts = ssh_options(t)
    assert opts.known_hosts == Path.home() / ".ssh" / "known_hosts" and opts.user == "root"


def test_a_named_target_and_a_file(tmp_path: Path) -> None:
    build = tmp_path / "c1"
    made = ClusterTarget(
        "c1",
        user="ops",
        key=Path("keys/id"),
        known_hosts=Path("/etc/ssh/known"),
        jump="bastion:2222",
        addresses={"node01": Address("192.0.2.1", 2200)},
        extravars={"network_apply_command": "netplan generate"},
        sm_host="node01",
        name="staging",
    )
    made.save(build)
    (build / "targets" / "keys").mkdir()
    (build / "targets" / "keys" / "id").write_text("a key")
    t = load_target(build, "c1", "staging")
    assert t.user == "ops" and t.key == build / "targets" / "keys" / "id"  # relative to the file
    assert t.known_hosts == Path("/etc/ssh/known") and t.extravars == made.extravars
    assert load_target(build, "c1", str(build / "targets" / "staging.json")).name == "staging"
    assert with_overrides(t, user="root").user == "root"
    opts = ssh_options(t)
    assert opts.jump is not None and (opts.jump.address, opts.jump.port) == ("bastion", 2222)
    topo = _topo("lab-small")
    first = hosts(replace(t, cluster="lab-small"), list(topo.nodes[:2]))
    assert (first[0].address, first[0].port) == ("192.0.2.1", 2200)
    assert first[1].address == topo.nodes[1].mgmt_ip


def test_bad_targets_are_usage_errors(tmp_path: Path) -> None:
    build = tmp_path / "c1"
    with pytest.raises(TargetError, match=r"no target 'lab'") as e:
        load_target(build, "c1", "lab")
    assert "aictl lab up" in e.value.hint and e.value.exit_code == 2
    f = tmp_path / "t.json"
    f.write_text('{"kind": "something else"}')
    with pytest.raises(TargetError, match="not a target description"):
        load_target(build, "c1", str(f))
    f = ClusterTarget("other").save(tmp_path / "b2")
    with pytest.raises(TargetError, match="describes cluster 'other'"):
        load_target(build, "c1", str(f))
    for bad in ("bastion:notaport", ":22", "h:0", "h:70000"):
        with pytest.raises(UsageError, match="--jump"):
            parse_jump(bad)


def test_limit_selects_by_glob_su_and_rack() -> None:
    topo = _topo("lab-small")
    assert [n.name for n in select(topo, "su02")] == ["node05", "node06", "node07", "node08"]
    assert [n.name for n in select(topo, "node0[12],rack02")][:2] == ["node01", "node02"]
    with pytest.raises(UsageError, match="matches no node"):
        select(topo, "gpu*")


def test_commands_need_a_spec_and_a_target_that_exists(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["exec", "hostname"])
    assert r.exit_code == 2 and "give a spec file or --preset" in r.stderr
    r = CliRunner().invoke(app, ["check", "--out", str(tmp_path)])
    assert r.exit_code == 2
    r = CliRunner().invoke(
        app, ["exec", "--preset", "lab-small", "--target", "lab", "--out", str(tmp_path), "true"]
    )
    assert r.exit_code == 2 and "no target 'lab'" in r.stderr
    r = CliRunner().invoke(app, ["accept", "localize", "--out", str(tmp_path)])
    assert r.exit_code == 2


@pytest.mark.parametrize("name", ["lab-small", "mixed-lab", "roce-h100-256"])
def test_the_plan_reads_back_as_the_same_objects(name: str, tmp_path: Path) -> None:
    topo = _topo(name)
    write_plan(topo, tmp_path, picture=False)
    again = load_plan(tmp_path, spec_sha256=topo.spec_sha256)
    assert again == topo
    assert again.profile("node01" if name != "roce-h100-256" else topo.nodes[0].name)


def test_a_stale_build_says_so_and_names_the_command(tmp_path: Path) -> None:
    topo = _topo("lab-small")
    with pytest.raises(StaleBuildError, match=r"no spec\.resolved\.json") as e:
        load_plan(tmp_path)
    assert "aictl topo plan" in e.value.hint
    write_plan(topo, tmp_path, picture=False)
    with pytest.raises(StaleBuildError, match="another version of the spec") as e:
        load_plan(tmp_path, spec_sha256="0" * 64, spec_hint="cluster.yaml")
    assert e.value.hint == "aictl topo plan cluster.yaml brings it up to date"
    doc = json.loads((tmp_path / "spec.resolved.json").read_text())
    doc["spec_sha256"] = "f" * 64
    (tmp_path / "spec.resolved.json").write_text(json.dumps(doc))
    with pytest.raises(StaleBuildError, match="come from different specs"):
        load_plan(tmp_path)
    (tmp_path / "topology.json").write_text("{}")
    with pytest.raises(StaleBuildError, match="not a plan this aictl reads"):
        load_plan(tmp_path)
