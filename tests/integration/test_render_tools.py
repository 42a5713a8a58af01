"""Rendered files checked by the tools that consume them: netplan, NetworkManager's keyfile
format (netplan's own NM output as the oracle), FRR (vtysh -C; the live fabric is in
test_bgp_frr.py), opensm on the ibsim twin, and the upstream CRDs."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from aictl.artifact import Artifact
from aictl.render import render_all
from aictl.render.validate import Finding, tools
from aictl.render.validate import k8s as k8s_checks
from aictl.spec.loader import load_preset, parse_spec_text, preset_names, preset_text
from aictl.topology import build_topology, write_plan
from aictl.topology.model import Topology
from tests.conftest import require_shared, require_tools
from tests.integration._ibsim import ibsim, run_sim


@cache
def plan(name: str) -> Topology:
    loaded = load_preset(name)
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


def _text_plan(text: str) -> Topology:
    loaded = parse_spec_text(text, "t.yaml")
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


def _errors(findings: list[Finding]) -> list[str]:
    return [f"{f.path}: {f.check}: {f.message}" for f in findings if f.status != "ok"]


@pytest.mark.parametrize("name", preset_names())
def test_netplan_generate_accepts_every_host(name: str) -> None:
    require_tools("netplan")
    arts = list(render_all(plan(name), targets=["hosts"]).artifacts)
    # every node of the lab, the seed's first SU, the first nodes elsewhere (the files
    # differ only in addresses, which the plan tests cover)
    sample = {"lab-small": None, "a800-200": 20}.get(name, 4)
    findings = tools.check_netplan(arts, sample=sample)
    assert findings and not _errors(findings)


def test_netplan_generate_rejects_a_broken_file() -> None:
    require_tools("netplan")
    art = next(
        a
        for a in render_all(plan("lab-small"), targets=["hosts"]).artifacts
        if a.path.endswith("60-aictl.yaml")
    )
    bad = Artifact(art.path, art.data.replace(b"mode: 802.3ad", b"mode: 802.3adx"))
    findings = tools.check_netplan([bad])
    assert findings[0].status == "error" and "802.3adx" in findings[0].message


def _ini(text: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None)
    cp.read_string(text)
    return cp


def test_keyfiles_match_netplans_networkmanager_output(tmp_path: Path) -> None:
    """RHEL keyfiles carry what netplan's NetworkManager renderer writes for the same node."""
    require_tools("netplan")
    ubuntu = plan("lab-small")
    rhel = _text_plan(
        preset_text("lab-small").replace(
            "system: HGX A800 8-GPU (simulated)",
            "system: HGX A800 8-GPU (simulated)\n    os_family: rhel",
        )
    )
    ours = {a.path: a.data.decode() for a in render_all(rhel, targets=["hosts"]).artifacts}
    netplan = next(
        a
        for a in render_all(ubuntu, targets=["hosts"]).artifacts
        if a.path == "hosts/node03/etc/netplan/60-aictl.yaml"
    )
    root = tmp_path / "root"
    (root / "etc" / "netplan").mkdir(parents=True)
    f = root / "etc" / "netplan" / "60-aictl.yaml"
    f.write_bytes(netplan.data.replace(b"renderer: networkd", b"renderer: NetworkManager"))
    f.chmod(0o600)
    subprocess.run(["netplan", "generate", "--root-dir", str(root)], check=True)
    nm_dir = root / "run" / "NetworkManager" / "system-connections"
    oracle = {p.name: _ini(p.read_text()) for p in nm_dir.glob("*.nmconnection")}
    base = "hosts/node03/etc/NetworkManager/system-connections/"
    pairs = [
        ("netplan-bond0.nmconnection", "bond0.nmconnection", ["bond", "ipv4"]),
        ("netplan-lan2.nmconnection", "rail0-lan2.nmconnection", ["infiniband", "ipv4"]),
        ("netplan-lan5.nmconnection", "rail3-lan5.nmconnection", ["infiniband", "ipv4"]),
    ]
    for theirs, mine, sections in pairs:
        o, m = oracle[theirs], _ini(ours[base + mine])
        assert o["connection"]["type"] == m["connection"]["type"]
        assert o["connection"]["interface-name"] == m["connection"]["interface-name"]
        for sec in sections:
            for key, value in o[sec].items():
                if key == "method" or not value:
                    continue
                assert m[sec].get(key) == value, (mine, sec, key)
    port = _ini(ours[base + "bond0-port-lan0.nmconnection"])
    assert port["connection"]["master"] == "bond0" and port["connection"]["slave-type"] == "bond"


def _frr_files(name: str) -> list[Artifact]:
    return [
        a
        for a in render_all(plan(name), targets=["switches"]).artifacts
        if a.path.endswith("frr.conf")
    ]


def test_vtysh_accepts_every_frr_config() -> None:
    require_tools("vtysh")
    findings = tools.check_frr(_frr_files("roce-h100-256"))
    assert len(findings) == 96 and not _errors(findings)
    numbered = _text_plan(
        preset_text("roce-h100-256")
        .replace("  nodes_per_su: 32\n", "  nodes_per_su: 32\n  bgp: numbered\n")
        .replace(
            "  loopbacks: 10.255.0.0/24\n", "  loopbacks: 10.255.0.0/24\n  p2p: 172.30.0.0/16\n"
        )
    )
    arts = [
        a
        for a in render_all(numbered, targets=["switches"]).artifacts
        if a.path.endswith("frr.conf")
    ]
    assert "ip address 172.30.0.0/31" in arts[0].data.decode()
    findings = tools.check_frr(arts, sample=12)
    assert findings and not _errors(findings)
    broken = Artifact(
        "x/frr.conf", arts[0].data.replace(b"remote-as external", b"remote-ass external")
    )
    assert tools.check_frr([broken])[0].status == "error"


NETWORK_OPERATOR_CRDS = {
    "26.7": "network-operator-v26.7.0-rc.2",
    "26.4": "network-operator-v26.4.1",
}


def _crds(tmp: Path, line: str) -> Path:
    """One release's CRDs (and the MPIJob's), as a user would gather them for --crds: the
    shared schemas hold both lines, whose kinds would otherwise shadow each other."""
    schemas = require_shared("schemas")
    out = tmp / f"crds-{line}"
    for sub in (NETWORK_OPERATOR_CRDS[line], "mpi-operator-v0.8.0"):
        shutil.copytree(schemas / sub, out / sub)
    return out


@pytest.mark.parametrize(
    "name", [n for n in preset_names() if load_preset(n).spec.kubernetes.enabled]
)
def test_manifests_validate_against_the_upstream_crds(name: str, tmp_path: Path) -> None:
    topo = plan(name)
    assert topo.spec.kubernetes.network_operator.startswith("26.7.")  # the default line
    findings = k8s_checks.check_crds(
        list(render_all(topo, targets=["k8s"]).artifacts), _crds(tmp_path, "26.7")
    )
    kinds = {f.check.split("/")[0] for f in findings}
    assert {"NicClusterPolicy", "NicNodePolicy", "NetworkAttachmentDefinition", "MPIJob"} <= kinds
    assert any("upstream schema" in f.check or "rdmaShared" in f.check for f in findings)
    assert not _errors(findings)


@pytest.mark.parametrize("release", ["26.4.2", "26.4.1", "26.4.0"])
def test_the_maintenance_line_validates_against_its_crds(release: str, tmp_path: Path) -> None:
    topo = _text_plan(
        preset_text("lab-small").replace(
            "kubernetes:\n", f'kubernetes:\n  network_operator: "{release}"\n'
        )
    )
    arts = list(render_all(topo, targets=["k8s"]).artifacts)
    findings = k8s_checks.check_crds(arts, _crds(tmp_path, "26.4"))
    assert findings and not _errors(findings)


def test_a_60_character_cluster_name_renders_and_validates(tmp_path: Path) -> None:
    """Through the CLI, as a user runs it: `aictl render --validate --crds`."""
    from typer.testing import CliRunner

    from aictl.cli.app import app

    name = "gpu-cluster-" + "x" * 39 + "-rack-001"
    assert len(name) == 60
    spec = tmp_path / "long.yaml"
    spec.write_text(preset_text("lab-small").replace("name: lab-small", f"name: {name}", 1))
    crds = _crds(tmp_path, "26.7")
    args = ["render", str(spec), "--out", str(tmp_path / "b"), "--only", "k8s"]
    result = CliRunner().invoke(app, [*args, "--validate", "--crds", str(crds), "-o", "json"])
    assert result.exit_code == 0, result.output
    k8s = tmp_path / "b" / "artifacts" / "k8s"
    policy = yaml.safe_load((k8s / "11-nicnodepolicy.yaml").read_text())
    assert policy["spec"]["nodeSelector"] == {"aictl.io/cluster": name}
    # what the operator derives from the policy name fits in a label value
    assert len(f"rdma-shared-dp-{policy['metadata']['name']}") <= 63
    # and the check that says so is the one that fails on the old naming
    old = (
        (k8s / "11-nicnodepolicy.yaml")
        .read_text()
        .replace(policy["metadata"]["name"], f"{name}-gpu-nodes")
    )
    found = k8s_checks.check_names([Artifact("k8s/11-nicnodepolicy.yaml", old.encode())])
    assert found[0].status == "error" and "label app" in found[0].message


def test_whereabouts_kustomization_builds_with_its_reconciler(tmp_path: Path) -> None:
    """kustomize (kubectl's) builds the rendered kustomization over the release's own files
    (the shared copies stand in for the URLs it names): the reconciler Deployment is there, every
    image is the release's tag, and the reconciler reads the spec's schedule."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (for kubectl kustomize) not installed")
    upstream = require_shared("schemas") / "whereabouts-v0.9.4"
    art = next(
        a
        for a in render_all(plan("lab-small"), targets=["k8s"]).artifacts
        if a.path == "k8s/whereabouts/kustomization.yaml"
    )
    text = art.data.decode()
    base = "https://raw.githubusercontent.com/k8snetworkplumbingwg/whereabouts/v0.9.4/doc/crds/"
    assert text.count(base) == 4
    (tmp_path / "kustomization.yaml").write_text(text.replace(base, ""))
    for f in upstream.glob("*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    built = subprocess.run(
        [kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(built.stdout)}
    reconciler = docs[("Deployment", "whereabouts-reconciler")]["spec"]["template"]["spec"]
    images = [
        c["image"]
        for d in docs.values()
        for c in ((d.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers", [])
    ]
    assert len(images) == 2
    assert set(images) == {"ghcr.io/k8snetworkplumbingwg/whereabouts:v0.9.4"}
    config = docs[("ConfigMap", "whereabouts-config")]
    assert config["data"]["cron-expression"] == "30 4 * * *"
    (volume,) = reconciler["volumes"]
    assert volume["configMap"]["name"] == "whereabouts-config"


def test_crd_validation_catches_unknown_fields(tmp_path: Path) -> None:
    crds = _crds(tmp_path, "26.7")
    ncp = next(
        a
        for a in render_all(plan("lab-small"), targets=["k8s"]).artifacts
        if a.path.endswith("nicclusterpolicy.yaml")
    )
    bad = Artifact(
        ncp.path,
        ncp.data.replace(
            b"  secondaryNetwork:\n",
            b"  secondaryNetwork:\n    ipamPlugin:\n      image: whereabouts\n",
        ),
    )
    findings = k8s_checks.check_crds([bad], crds)
    assert any(f.status == "error" and "ipamPlugin" in f.message for f in findings)


@pytest.mark.ibsim
@pytest.mark.parametrize("preset", ["lab-small", "a800-200"])
def test_opensm_loads_the_rendered_sm_config(preset: str, tmp_path: Path) -> None:
    require_tools("ibsim", "ibsim-run", "opensm", "smpquery", "ibnetdiscover")
    topo = plan(preset)
    write_plan(topo, tmp_path / "plan", picture=False)
    etc = tmp_path / "etc"
    etc.mkdir()
    for art in render_all(topo, targets=["ib"]).artifacts:
        if art.path.endswith(".conf"):
            # the files as rendered, only their /etc/opensm paths pointed at the test's copy
            (etc / Path(art.path).name).write_text(
                art.data.decode().replace("/etc/opensm", str(etc))
            )
    work = tmp_path / "osm"
    work.mkdir()
    with ibsim(tmp_path / "plan" / "exports" / "ibsim.net", work) as env:
        log = work / "opensm.log"
        run_sim(
            [
                "opensm",
                "-F",
                str(etc / "opensm.conf"),
                "-o",
                "-s",
                "0",
                "-D",
                "0x07",
                "-f",
                str(log),
            ],
            env,
        )
        text = log.read_text()
        assert "PARSE ERROR" not in text and "PARSE WARN" not in text
        assert "ftree tables configured on all switches" in text
        assert "fall" not in text.lower().replace("fallback_", "")
        if preset == "lab-small":
            ports = run_sim(["ibnetdiscover", "-p"], env)
            lid = {
                m.group(2): m.group(1)
                for m in re.finditer(r"^CA\s+(\d+)\s+\d+\s+\S+\s+.*\(\s*'([^']+)'", ports, re.M)
            }
            member = run_sim(["smpquery", "pkeys", lid["node01 mlx5_0"]], env)
            outsider = run_sim(["smpquery", "pkeys", lid["node08 mlx5_0"]], env)
            assert "0x8a01" in member  # tenant_a, full member
            assert "0x8a01" not in outsider and "0x0a02" in outsider  # storage, limited
