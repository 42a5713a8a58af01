"""Render: golden trees, manifest and drift, determinism, rules, and what each target says."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.errors import ExitCode, RenderError, SpecError
from aictl.render import check_drift, render_all, write_rendered
from aictl.render.validate import k8s as k8s_checks
from aictl.spec.loader import load_preset, parse_spec_text, preset_names, preset_text
from aictl.topology import build_topology, qos
from aictl.topology.model import Topology
from tests.conftest import TESTS, check_golden

GOLDEN = TESTS / "cases"
runner = CliRunner()


@cache
def plan(name: str) -> Topology:
    loaded = load_preset(name)
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


def files(name: str) -> dict[str, str]:
    return {a.path: a.data.decode() for a in render_all(plan(name)).artifacts}


def plan_text(text: str) -> Topology:
    loaded = parse_spec_text(text, "t.yaml")
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


# a full golden tree for the lab, sampled files elsewhere; the manifest of every preset pins
# every byte of every file
SAMPLES = {
    "a800-200": [
        "hosts/gpu001/etc/netplan/60-aictl.yaml",
        "profiles/hgx-a800/etc/nccl.conf",
        "ib/opensm.conf",
        "ib/partitions.conf",
        "ib/ufm/requests.json",
        "k8s/10-nicclusterpolicy.yaml",
        "k8s/11-nicnodepolicy.yaml",
        "k8s/30-networks.yaml",
        "k8s/50-nccl-mpijob.yaml",
        "switches/tor-01a/nvue.txt",
    ],
    "roce-h100-256": [
        "hosts/h100-001/etc/netplan/60-aictl.yaml",
        "profiles/hgx-h100/etc/nccl.conf",
        "profiles/hgx-h100/usr/local/sbin/aictl-roce-qos",
        "switches/leaf-su01-r0/frr.conf",
        "switches/leaf-su01-r0/nvue.txt",
        "switches/spine-01/frr.conf",
        "k8s/30-networks.yaml",
        "k8s/scheduler/volcano-hypernodes.yaml",
        "k8s/scheduler/volcano-nccl-job.yaml",
    ],
    "dgx-h100-127": ["ib/opensm.conf", "ib/partitions.conf", "profiles/dgx-h100/etc/nccl.conf"],
    # two node groups: each its own nccl.conf, host files, inventory vars; one hostfile and
    # one sample MPIJob over both (GPUs per worker: the smaller group's)
    "mixed-lab": [
        "profiles/hgx-a800/etc/nccl.conf",
        "profiles/hgx-h100-4gpu/etc/nccl.conf",
        "hosts/node01/etc/netplan/60-aictl.yaml",
        "hosts/node05/etc/netplan/60-aictl.yaml",
        "accept/hostfile",
        "k8s/11-nicnodepolicy.yaml",
        "k8s/50-nccl-mpijob.yaml",
        "k8s/scheduler/kueue-topology.yaml",
        "k8s/scheduler/volcano-nccl-job.yaml",
        "inventory/group_vars/all/gpu.yml",
        "inventory/host_vars/node05.yml",
    ],
}


@pytest.mark.parametrize("name", preset_names())
def test_golden_render(name: str, update_golden: bool) -> None:
    topo = plan(name)
    result = render_all(topo)
    rendered = {a.path: a for a in result.artifacts}
    manifest = {"files": {p: a.sha256 for p, a in sorted(rendered.items())}}
    check_golden(
        GOLDEN / name / "expected" / "render-manifest.json",
        json.dumps(manifest, indent=2, sort_keys=True) + "\n",
        update_golden,
    )
    keep = list(rendered) if name == "lab-small" else SAMPLES.get(name, [])
    if name == "lab-small" and not update_golden:
        tree = GOLDEN / name / "expected" / "artifacts"
        on_disk = {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}
        assert on_disk == set(rendered), "golden tree has files the render no longer makes"
    for path in keep:
        check_golden(
            GOLDEN / name / "expected" / "artifacts" / path,
            rendered[path].data.decode(),
            update_golden,
        )


def test_same_spec_same_bytes() -> None:
    a = render_all(plan("roce-h100-256"))
    text = preset_text("roce-h100-256")
    data = yaml.safe_load(text)
    reordered = plan_text(yaml.safe_dump(dict(reversed(list(data.items()))), sort_keys=False))
    b = render_all(reordered)
    assert [(x.path, x.data) for x in a.artifacts] == [(x.path, x.data) for x in b.artifacts]


def test_write_manifest_check_and_stale_files(tmp_path: Path) -> None:
    topo = plan("lab-small")
    result = render_all(topo)
    manifest = json.loads(write_rendered(topo, result, tmp_path).read_text())
    assert manifest["spec_sha256"] == topo.spec_sha256
    for path, sha in manifest["files"].items():
        import hashlib

        assert hashlib.sha256((tmp_path / "artifacts" / path).read_bytes()).hexdigest() == sha
    assert check_drift(result, tmp_path).clean
    netplan = tmp_path / "artifacts" / "hosts" / "node01" / "etc" / "netplan" / "60-aictl.yaml"
    netplan.write_text("x\n")
    (tmp_path / "artifacts" / "hosts" / "node99").mkdir()
    (tmp_path / "artifacts" / "hosts" / "node99" / "old").write_text("x\n")
    (tmp_path / "artifacts" / "k8s" / "10-nicclusterpolicy.yaml").unlink()
    d = check_drift(result, tmp_path)
    assert d.changed == ("hosts/node01/etc/netplan/60-aictl.yaml",)
    assert d.missing == ("k8s/10-nicclusterpolicy.yaml",)
    assert d.extra == ("hosts/node99/old",)
    write_rendered(topo, result, tmp_path)  # re-render: stale files of the targets go away
    assert check_drift(result, tmp_path).clean
    mode = (
        (tmp_path / "artifacts/profiles/hgx-a800/usr/local/sbin/aictl-acs-disable").stat().st_mode
    )
    assert mode & 0o111


def test_only_targets_keep_the_rest_of_the_manifest(tmp_path: Path) -> None:
    topo = plan("lab-small")
    write_rendered(topo, render_all(topo), tmp_path)
    full = json.loads((tmp_path / "manifest.json").read_text())["files"]
    write_rendered(topo, render_all(topo, targets=["ib"]), tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text())["files"] == full


def test_cli_render_check_and_exit_codes(tmp_path: Path) -> None:
    out = tmp_path / "b"
    ok = runner.invoke(app, ["render", "--preset", "lab-small", "--out", str(out), "-o", "json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.output)
    assert data["files"] == {
        "accept": 1,
        "hosts": 8,
        "ib": 5,
        "inventory": 13,
        "k8s": 10,  # 6 network files, 4 scheduler files (k8s/scheduler/)
        "profiles": 7,
        "health": 2,
        "switches": 4,
    }
    assert (
        runner.invoke(
            app, ["render", "--preset", "lab-small", "--out", str(out), "--check"]
        ).exit_code
        == 0
    )
    (out / "artifacts" / "ib" / "partitions.conf").write_text("Default=0x7fff : ALL=full ;\n")
    drift = runner.invoke(app, ["render", "--preset", "lab-small", "--out", str(out), "--check"])
    assert drift.exit_code == ExitCode.RENDER
    assert "changed: ib/partitions.conf" in drift.stderr
    bad = runner.invoke(app, ["render", "--preset", "lab-small", "--only", "dns"])
    assert bad.exit_code == ExitCode.USAGE


def test_nccl_conf_names_exactly_the_rails() -> None:
    conf = files("dgx-h100-127")["profiles/dgx-h100/etc/nccl.conf"]
    hca = re.search(r"^NCCL_IB_HCA=(.*)$", conf, re.M)
    assert hca is not None
    assert (
        hca.group(1) == "=mlx5_0:1,mlx5_3:1,mlx5_4:1,mlx5_5:1,mlx5_6:1,mlx5_9:1,mlx5_10:1,mlx5_11:1"
    )
    assert "NCCL_SOCKET_IFNAME==bond0" in conf
    assert "NCCL_IB_GID_INDEX" not in conf  # InfiniBand: no GID settings
    roce = files("roce-h100-256")["profiles/hgx-h100/etc/nccl.conf"]
    assert f"NCCL_IB_TC={qos.ROCE_TOS}" in roce and "NCCL_IB_ROCE_VERSION_NUM=2" in roce


def test_roce_qos_agrees_between_hosts_and_switches() -> None:
    out = files("roce-h100-256")
    host = out["profiles/hgx-h100/usr/local/sbin/aictl-roce-qos"]
    switch = out["switches/leaf-su01-r0/nvue.txt"]
    assert "nv set qos roce mode lossless" in switch
    pfc = re.findall(r"--pfc (\S+)", host)
    assert pfc and set(pfc) == {"0,0,0,1,0,0,0,0"}  # lossless priority 3 = the switch default
    assert pfc[0].split(",").index("1") == qos.ROCE_PRIORITY == 3
    assert "--trust dscp" in host
    tos = {int(t) for t in re.findall(r"cma_roce_tos -d \S+ -t (\d+)", host)}
    assert tos == {qos.ROCE_TOS} and qos.ROCE_TOS >> 2 == qos.ROCE_DSCP
    # Spectrum lossless defaults map DSCP 24-31 to priority 3 and 48-55 to priority 6
    assert qos.ROCE_DSCP // 8 == qos.ROCE_PRIORITY and qos.CNP_DSCP // 8 == qos.CNP_PRIORITY
    assert f"/ecn/roce_np/enable/{qos.ROCE_PRIORITY}" in host


def test_sysctl_and_boot_units() -> None:
    out = files("a800-200")
    sysctl = out["profiles/hgx-a800/etc/sysctl.d/90-aictl-rdma.conf"]
    for key in ("arp_ignore = 2", "arp_announce = 2", "rp_filter = 2", "accept_local = 1"):
        assert f"net.ipv4.conf.all.{key}" in sysctl and f"net.ipv4.conf.lan5.{key}" in sysctl
    assert (
        out["profiles/hgx-a800/etc/modules-load.d/aictl-nvidia-peermem.conf"]
        .strip()
        .endswith("nvidia-peermem")
    )
    assert "ECAP_ACS+0x6.w=0000" in out["profiles/hgx-a800/usr/local/sbin/aictl-acs-disable"]
    assert (
        "ExecStart=/usr/local/sbin/aictl-acs-disable"
        in out["profiles/hgx-a800/etc/systemd/system/aictl-acs-disable.service"]
    )
    assert not any(p.endswith("aictl-roce-qos") for p in out)  # InfiniBand


def test_udev_rules_need_pci_addresses() -> None:
    assert not any("udev" in p for p in files("a800-200"))
    text = preset_text("lab-small")
    for i, bdf in enumerate(("0000:0c:00.0", "0000:12:00.0", "0000:4b:00.0", "0000:54:00.0")):
        text = text.replace(f"netdev: lan{i + 2},", f"netdev: lan{i + 2}, pci_address: '{bdf}',")
    out = {a.path: a.data.decode() for a in render_all(plan_text(text)).artifacts}
    rules = out["profiles/hgx-a800/etc/udev/rules.d/70-aictl-rails.rules"]
    assert 'KERNELS=="0000:0c:00.0", NAME="lan2"' in rules


def test_rhel_nodes_get_networkmanager_keyfiles() -> None:
    text = preset_text("lab-small").replace(
        "system: HGX A800 8-GPU (simulated)",
        "system: HGX A800 8-GPU (simulated)\n    os_family: rhel",
    )
    out = {a.path: a.data.decode() for a in render_all(plan_text(text)).artifacts}
    nm = "hosts/node01/etc/NetworkManager/system-connections/"
    assert not any("netplan" in p for p in out)
    bond = out[nm + "bond0.nmconnection"]
    assert "mode=802.3ad" in bond and "xmit_hash_policy=layer3+4" in bond
    assert "master=bond0" in out[nm + "bond0-port-lan0.nmconnection"]
    rail = out[nm + "rail0-lan2.nmconnection"]
    assert (
        "type=infiniband" in rail
        and "routing-rule1=priority 1000 from 10.77.16.2/32 table 100" in rail
    )


def test_planned_guids_drive_partitions_and_ufm_requests() -> None:
    out = files("lab-small")
    parts = out["ib/partitions.conf"]
    assert "Default=0x7fff, ipoib, mtu=5, defmember=full : ALL=full ;" in parts
    tenant = next(line for line in parts.splitlines() if line.startswith("tenant_a="))
    assert tenant.count("=full") == 16 + 1  # 4 hosts x 4 rails, plus defmember
    assert "storage=0x0a02, ipoib, mtu=5, defmember=limited : ALL_CAS=limited ;" in parts
    reqs = json.loads(out["ib/ufm/requests.json"])["requests"]
    create, add = "/ufmRest/resources/pkeys/add", "/ufmRest/resources/pkeys/"
    assert [r["path"] for r in reqs] == [create, add, create, add]
    assert len(reqs[1]["body"]["guids"]) == 16
    assert len(reqs[3]["body"]["guids"]) == 32 and reqs[3]["body"]["membership"] == "limited"
    assert all(re.fullmatch(r"[0-9a-f]{16}", g) for g in reqs[1]["body"]["guids"])
    assert "root_guid_file /etc/opensm/root-guids.conf" in out["ib/opensm.conf"]
    assert "root_guid_file" not in files("a800-200")["ib/opensm.conf"]  # discovered GUIDs


def test_host_members_need_known_guids(tmp_path: Path) -> None:
    text = preset_text("a800-200").replace(
        "    - {name: training, pkey: 0x0010, members: all}",
        "    - {name: training, pkey: 0x0010, members: [gpu001]}",
    )
    spec = tmp_path / "c.yaml"
    spec.write_text(text)
    result = runner.invoke(app, ["render", str(spec), "--out", str(tmp_path / "b")])
    assert result.exit_code == ExitCode.RENDER
    assert re.match(
        rf"error\[RENDER\] {re.escape(str(spec))}:\d+ subnet_manager.guids: ", result.stderr
    )
    assert not (tmp_path / "b").exists()
    with pytest.raises(RenderError):
        render_all(plan_text(text))


def _with_k8s(preset: str, settings: str) -> dict[str, str]:
    text = preset_text(preset).replace("kubernetes:\n", f"kubernetes:\n{settings}", 1)
    return {a.path: a.data.decode() for a in render_all(plan_text(text)).artifacts}


@pytest.mark.parametrize("release", ["26.7.1", "26.7.0", "26.4.2", "26.4.1", "26.4.0"])
def test_supported_releases_share_one_layout(release: str) -> None:
    out = _with_k8s("lab-small", f'  network_operator: "{release}"\n')
    ncp = yaml.safe_load(out["k8s/10-nicclusterpolicy.yaml"])["spec"]
    # one registry and tag for every component, in `global`
    assert ncp["global"] == {
        "repository": "nvcr.io/nvidia/mellanox",
        "version": f"network-operator-v{release}",
    }
    assert ncp["secondaryNetwork"] == {
        "multus": {"image": "multus-cni"},
        "cniPlugins": {"image": "plugins"},
        "ipoib": {"image": "ipoib-cni"},
    }
    assert "rdmaSharedDevicePlugin" not in ncp  # per node, in the NicNodePolicy
    nnp = yaml.safe_load(out["k8s/11-nicnodepolicy.yaml"])["spec"]["rdmaSharedDevicePlugin"]
    assert nnp["version"] == f"network-operator-v{release}"  # no `global` in a NicNodePolicy
    assert "k8s/whereabouts/kustomization.yaml" in out


@pytest.mark.parametrize("release", ["26.1.2", "25.10.0", "24.10.0"])
def test_releases_nvidia_ended_are_refused_with_the_supported_ones(release: str) -> None:
    text = preset_text("lab-small").replace(
        "kubernetes:\n", f'kubernetes:\n  network_operator: "{release}"\n', 1
    )
    with pytest.raises(SpecError) as exc:
        plan_text(text)
    (problem,) = exc.value.problems
    assert problem.field == "kubernetes.network_operator"
    assert f"network-operator {release} has reached NVIDIA's End of Support" in problem.message
    assert "26.7.x (current): 26.7.1, 26.7.0; 26.4.x (maintenance)" in problem.message


def test_registry_mirror_pull_secrets_and_upstream_multus() -> None:
    out = _with_k8s(
        "lab-small",
        "  image_repository: registry.local:5000/nvidia/mellanox\n"
        "  image_pull_secrets: [ngc-mirror]\n"
        "  multus: upstream\n",
    )
    ncp = yaml.safe_load(out["k8s/10-nicclusterpolicy.yaml"])["spec"]
    assert ncp["global"]["repository"] == "registry.local:5000/nvidia/mellanox"
    assert ncp["global"]["imagePullSecrets"] == ["ngc-mirror"]
    assert "multus" not in ncp["secondaryNetwork"]  # the pinned upstream release instead
    nnp = yaml.safe_load(out["k8s/11-nicnodepolicy.yaml"])["spec"]["rdmaSharedDevicePlugin"]
    assert nnp["imagePullSecrets"] == ["ngc-mirror"]
    multus = yaml.safe_load(out["k8s/multus/kustomization.yaml"])
    assert multus["resources"] == [
        "https://raw.githubusercontent.com/k8snetworkplumbingwg/multus-cni/v4.3.1"
        "/deployments/multus-daemonset-thick.yml"
    ]
    assert multus["images"] == [
        {"name": "ghcr.io/k8snetworkplumbingwg/multus-cni", "newTag": "v4.3.1-thick"}
    ]
    none = _with_k8s("lab-small", "  multus: none\n")
    assert (
        "multus"
        not in yaml.safe_load(none["k8s/10-nicclusterpolicy.yaml"])["spec"]["secondaryNetwork"]
    )
    assert not any(p.startswith("k8s/multus/") for p in none)


def test_whereabouts_installs_its_reconciler_pinned_and_scheduled() -> None:
    out = _with_k8s("lab-small", '  whereabouts_reconcile_schedule: "*/15 * * * *"\n')
    k = yaml.safe_load(out["k8s/whereabouts/kustomization.yaml"])
    base = "https://raw.githubusercontent.com/k8snetworkplumbingwg/whereabouts/v0.9.4/doc/crds"
    assert f"{base}/reconciler-deployment.yaml" in k["resources"]
    assert f"{base}/daemonset-install.yaml" in k["resources"]
    assert k["images"] == [{"name": "ghcr.io/k8snetworkplumbingwg/whereabouts", "newTag": "v0.9.4"}]
    (config,) = k["configMapGenerator"]
    assert config["literals"] == ["cron-expression=*/15 * * * *"]


def test_long_cluster_names_give_names_that_fit() -> None:
    name = "a" * 50 + "-cluster-1"
    assert len(name) == 60
    text = preset_text("lab-small").replace("name: lab-small", f"name: {name}", 1)
    arts = list(render_all(plan_text(text)).artifacts)
    out = {a.path: a.data.decode() for a in arts}
    nnp = yaml.safe_load(out["k8s/11-nicnodepolicy.yaml"])["metadata"]["name"]
    assert len(f"rdma-shared-dp-{nnp}") <= 63 and nnp.startswith("a" * 30)
    job = yaml.safe_load(out["k8s/50-nccl-mpijob.yaml"])["metadata"]["name"]
    assert len(f"{job}-worker-1") <= 63
    again = {a.path: a.data.decode() for a in render_all(plan_text(text)).artifacts}
    assert again == out  # a hash, not a random suffix
    other = text.replace(f"name: {name}", f"name: {name[:-1]}2", 1)
    assert (
        yaml.safe_load(
            next(a for a in render_all(plan_text(other)).artifacts if "nicnode" in a.path).data
        )["metadata"]["name"]
        != nnp
    )
    assert all(f.status == "ok" for f in k8s_checks.check_names(arts))


def test_name_checks_catch_what_the_operators_would_break_on() -> None:
    from aictl.artifact import Artifact

    long = "b" * 55
    nnp = Artifact(
        "k8s/11-nicnodepolicy.yaml",
        (
            "apiVersion: mellanox.com/v1alpha1\nkind: NicNodePolicy\n"
            f"metadata: {{name: {long}}}\n"
            f"spec: {{nodeSelector: {{aictl.io/cluster: {'c' * 64}}}, "
            "rdmaSharedDevicePlugin: {image: x}}\n"
        ).encode(),
    )
    job = Artifact(
        "k8s/50-nccl-mpijob.yaml",
        (
            "apiVersion: kubeflow.org/v2beta1\nkind: MPIJob\n"
            f"metadata: {{name: {long}}}\n"
            "spec: {mpiReplicaSpecs: {Worker: {replicas: 16}}}\n"
        ).encode(),
    )
    found = {f.path: f for f in k8s_checks.check_names([nnp, job])}
    assert found["k8s/11-nicnodepolicy.yaml"].status == "error"
    assert "rdma-shared-dp-" in found["k8s/11-nicnodepolicy.yaml"].message
    assert "aictl.io/cluster" in found["k8s/11-nicnodepolicy.yaml"].message
    assert f"{long}-worker-15" in found["k8s/50-nccl-mpijob.yaml"].message


def test_networks_and_mpijob_request_every_rail_in_order() -> None:
    out = files("roce-h100-256")
    nads = [d for d in yaml.safe_load_all(out["k8s/30-networks.yaml"]) if d]
    assert [d["metadata"]["name"] for d in nads] == [f"rail{r}" for r in range(8)]
    conf = json.loads(nads[3]["spec"]["config"])
    assert conf["type"] == "macvlan" and conf["master"] == "ens4np0"
    assert conf["ipam"]["type"] == "whereabouts"
    job = yaml.safe_load(out["k8s/50-nccl-mpijob.yaml"])
    worker = job["spec"]["mpiReplicaSpecs"]["Worker"]["template"]
    assert worker["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"] == ",".join(
        f"rail{r}" for r in range(8)
    )
    limits = worker["spec"]["containers"][0]["resources"]["limits"]
    assert list(limits)[1:] == [f"rdma/rdma_shared_rail{r}" for r in range(8)]
    assert worker["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] == ["IPC_LOCK"]


def test_nv_ipam_pools() -> None:
    text = (
        preset_text("roce-h100-256").replace(
            "  asn: {spine: 65100, leaf_start: 65200}", "  asn: {spine: 65100, leaf_start: 65200}"
        )
        + "\nkubernetes:\n  ipam: nv-ipam\n"
    )
    out = {a.path: a.data.decode() for a in render_all(plan_text(text)).artifacts}
    pools = [d for d in yaml.safe_load_all(out["k8s/20-ippools.yaml"]) if d]
    assert len(pools) == 8 and pools[0]["spec"]["perNodeBlockSize"] == 2
    assert "nvIpam" in yaml.safe_load(out["k8s/10-nicclusterpolicy.yaml"])["spec"]
    assert not any("whereabouts" in p for p in out)


def test_embedded_json_checks_catch_real_mistakes() -> None:
    result = render_all(plan("lab-small"))
    assert all(f.status == "ok" for f in k8s_checks.check_embedded(list(result.artifacts)))
    from aictl.artifact import Artifact

    nets = next(a for a in result.artifacts if a.path == "k8s/30-networks.yaml")
    broken = nets.data.decode().replace('"range_start"', '"ip_ranges"', 1)
    findings = k8s_checks.check_embedded([Artifact(nets.path, broken.encode())])
    assert any(f.status == "error" and "ip_ranges" in f.message for f in findings)


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        (
            ("  link_gbps: 400\n", "  link_gbps: 400\n  rail_mtu: 1500\n"),
            "compute_fabric.rail_mtu",
            "RDMA MTU below 4096",
        ),
        (("  pod_ips_per_node: 2\n", "  pod_ips_per_node: 2\n"), None, None),
        (
            ("  nodes_per_su: 32\n", "  nodes_per_su: 32\n  bgp: numbered\n"),
            "compute_fabric.bgp",
            "needs addressing.p2p",
        ),
        (
            (
                "      bond: {mtu: 9000}\n",
                "      bond: {mtu: 9000}\n    nccl_env: {NCCL_IB_HCA: '=mlx5_0,mlx5_1'}\n",
            ),
            "node_profiles.hgx-h100.nccl_env.NCCL_IB_HCA",
            "does not name",
        ),
    ],
)
def test_rules_that_protect_devices(
    patch: tuple[str, str], field: str | None, words: str | None
) -> None:
    from aictl.errors import SpecError

    text = preset_text("roce-h100-256").replace(*patch)
    if field is None:
        parse_spec_text(text, "t.yaml")
        return
    with pytest.raises(SpecError) as exc:
        parse_spec_text(text, "t.yaml")
    assert words is not None
    assert any(p.field == field and words in p.message and p.line for p in exc.value.problems)


def test_pod_mtu_above_rail_mtu_is_refused() -> None:
    from aictl.errors import SpecError

    text = preset_text("lab-small").replace("kubernetes:\n", "kubernetes:\n  pod_mtu: 9000\n")
    with pytest.raises(SpecError) as exc:
        parse_spec_text(text, "t.yaml")
    assert exc.value.problems[0].field == "kubernetes.pod_mtu"
    assert "macvlan or IPoIB child" in exc.value.problems[0].hint
