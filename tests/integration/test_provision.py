"""Provisioning on the lab with the real Ansible: converges, re-runs with nothing changed,
--check changes nothing, an unreachable node is reported while the others finish, and the
MOFED (DOCA-OFED and MLNX_OFED) and driver roles take their install paths with test doubles
(which record what the roles ran) and their already-installed paths with the lab's simulated
tools."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.lab import LAB_EXTRAVARS, lab_clear, lab_down, lab_inject, lab_up
from aictl.provision import ProvisionOptions, ProvisionResult, provision
from aictl.render import render_all, write_rendered
from aictl.spec.loader import load_preset
from aictl.topology import build_topology
from aictl.topology.model import Topology
from tests.conftest import ROOT, require_tools

pytestmark = [pytest.mark.lab, pytest.mark.slow]

Lab = tuple[Topology, Path]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    require_tools("ip", "unshare", "/usr/sbin/sshd", "ibsim", "opensm", "netplan")
    loaded = load_preset("lab-small")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    build = tmp_path_factory.mktemp("prov") / "build"
    lab_down(topo.name, build=build)
    lab_up(topo, build=build)
    write_rendered(topo, render_all(topo), build)
    yield topo, build
    lab_down(topo.name)


def run(lab: Lab, **kw: Any) -> ProvisionResult:
    _, build = lab
    extravars = {
        "aictl_artifacts": str((build / "artifacts").resolve()),
        **LAB_EXTRAVARS,
        **kw.pop("extravars", {}),
    }
    opts = ProvisionOptions(
        key=build / "lab" / "id_ed25519",
        known_hosts=build / "lab" / "known_hosts",
        extravars=extravars,
        **kw,
    )
    return provision(build / "artifacts" / "inventory", build, opts)


def ssh(lab: Lab, node: str, command: str) -> str:
    _, build = lab
    return subprocess.run(
        ["ssh", "-F", str(build / "lab" / "ssh_config"), "-o", "BatchMode=yes", node, command],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


def test_converges_then_changes_nothing(lab: Lab) -> None:
    first = run(lab)
    assert first.status == "successful" and not first.failed_hosts
    assert set(first.hosts) == {f"node{i:02d}" for i in range(1, 9)}
    assert all(c["changed"] > 0 for c in first.hosts.values())
    assert "bond0:" in ssh(lab, "node04", "cat /etc/netplan/60-aictl.yaml")
    assert "nvidia-peermem" in ssh(
        lab, "node04", "cat /etc/modules-load.d/aictl-nvidia-peermem.conf"
    )
    assert ssh(lab, "node06", "cat /etc/aictl/hostfile").splitlines()[1] == "node01 slots=8"
    # netplan generate ran on the node itself: networkd files in the node's own /run
    assert "10-netplan-bond0.netdev" in ssh(lab, "node02", "ls /run/systemd/network")
    again = run(lab)
    assert again.status == "successful"
    assert {h: c["changed"] for h, c in again.hosts.items()} == dict.fromkeys(again.hosts, 0)
    assert Path(again.artifacts, "job_events").is_dir()  # every event kept


def _tree(lab: Lab, node: str) -> dict[str, bytes]:
    topo, _ = lab
    upper = Path("/run/aictl-lab") / topo.name / "nodes" / node / "upper"
    return {
        str(p.relative_to(upper)): p.read_bytes()
        for p in upper.rglob("*")
        if p.is_file()
        and not str(p.relative_to(upper)).startswith(("root/.ansible", "tmp", "var/tmp"))
    }


def test_check_mode_changes_nothing(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the CLI, as a user runs it: relative build dir, the lab's SSH files found."""
    _, build = lab
    ssh(lab, "node02", "echo drift > /etc/sysctl.d/90-aictl-rdma.conf")
    before = _tree(lab, "node02")
    monkeypatch.chdir(build.parent)
    args = ["provision", "--preset", "lab-small", "--target", "lab", "--out", build.name]
    args += ["--check"]
    cli = CliRunner().invoke(app, [*args, "--limit", "node02", "--tags", "network", "-o", "json"])
    assert cli.exit_code == 0, cli.output
    result = json.loads(cli.output)
    assert result["check"] and result["failed"] == [] and result["unreachable"] == []
    assert result["hosts"]["node02"]["changed"] >= 1  # it would fix the drift...
    assert _tree(lab, "node02") == before  # ...and did not
    assert ssh(lab, "node02", "cat /etc/sysctl.d/90-aictl-rdma.conf").strip() == "drift"
    assert run(lab, limit="node02", tags="network").hosts["node02"]["changed"] >= 1
    assert "arp_ignore" in ssh(lab, "node02", "cat /etc/sysctl.d/90-aictl-rdma.conf")


def test_network_change_that_cuts_management_is_rolled_back(lab: Lab) -> None:
    """A gateway that stops answering after apply: the previous netplan file goes back and
    the host fails; the next good run converges it."""
    old = "network: {version: 2}\n"
    ssh(lab, "node06", f"printf '{old}' > /etc/netplan/60-aictl.yaml")
    cut = {"aictl_mgmt_gateway": "192.0.2.1", "network_check_timeout": "1"}
    result = run(lab, tags="network", limit="node06", extravars=cut)
    assert result.failed_hosts == ["node06"]
    assert ssh(lab, "node06", "cat /etc/netplan/60-aictl.yaml") == old
    # the one-off -e is gone: not kept in the build dir, not merged into the next run
    assert not (lab[1] / "runner" / "env" / "extravars").exists()
    good = run(lab, tags="network", limit="node06")
    assert good.status == "successful", Path(good.artifacts, "stdout").read_text()[-3000:]
    assert "bond0" in ssh(lab, "node06", "cat /etc/netplan/60-aictl.yaml")


def test_unreachable_node_is_reported_and_the_others_finish(lab: Lab) -> None:
    topo, build = lab
    lab_inject(topo.name, "sshd-down", host="node03")
    try:
        result = run(lab, tags="preflight")
        assert result.unreachable_hosts == ["node03"]
        assert result.failed_hosts == ["node03"]
        ok = [h for h, c in result.hosts.items() if c["ok"] and not c["dark"]]
        assert len(ok) == 7
        from typer.testing import CliRunner

        from aictl.cli.app import app

        cli = CliRunner().invoke(
            app,
            [
                "provision",
                "--preset",
                "lab-small",
                "--target",
                "lab",
                "--out",
                str(build),
                "--tags",
                "preflight",
                "-o",
                "json",
            ],
        )
        assert cli.exit_code == 6 and "node03" in cli.stderr
    finally:
        lab_clear(topo.name)


def _bundle(tmp: Path, name: str, script: str) -> Path:
    """A clearly labelled test double of an installer bundle."""
    src = tmp / name
    src.mkdir()
    installer = src / script
    installer.write_text(
        "#!/bin/sh\n# TEST DOUBLE (aictl tests): records how the role ran it\n"
        'echo "$0 $*" >> /var/log/aictl-test-double.log\n'
    )
    installer.chmod(0o755)
    tgz = tmp / f"{name}.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(installer, arcname=script)
    return tgz


def _doca_host_repo_package(tmp: Path, ofed: str) -> Path:
    """A clearly labelled test double of DOCA-Host's local-repository package: a .deb that puts
    a flat apt repository on the node (with a stand-in `doca-ofed` whose install records itself
    and makes the lab's simulated ofed_info report `ofed`) and the apt source for it. Built
    with the real dpkg-deb and dpkg-scanpackages; installed by the role with the real apt."""
    require_tools("dpkg-deb", "dpkg-scanpackages")
    version = ofed.removeprefix("OFED-internal-")
    repo_dir = "/usr/share/aictl-test-doca-host/repo"

    def build(name: str, root: Path, control: str, postinst: str = "") -> Path:
        (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
        (root / "DEBIAN" / "control").write_text(
            f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
            f"Maintainer: aictl tests <tests@aictl.invalid>\n{control}"
            f"Description: TEST DOUBLE of NVIDIA's {name} (aictl tests)\n"
        )
        if postinst:
            script = root / "DEBIAN" / "postinst"
            script.write_text(postinst)
            script.chmod(0o755)
        deb = tmp / f"{name}_{version}_all.deb"
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
            check=True,
            capture_output=True,
        )
        return deb

    ofed_double = build(
        "doca-ofed",
        tmp / "doca-ofed",
        "",
        "#!/bin/sh\n# TEST DOUBLE (aictl tests): the lab's ofed_info now reports the install\n"
        'echo "doca-ofed $1" >> /var/log/aictl-test-double.log\n'
        "/usr/bin/python3 - <<'PY'\nimport json\n"
        "p = '/etc/aictl-lab/hardware.json'\nhw = json.load(open(p))\n"
        f"hw['ofed'] = {ofed!r}\njson.dump(hw, open(p, 'w'), indent=1, sort_keys=True)\nPY\n",
    )
    host = tmp / "doca-host"
    repo = host / repo_dir.lstrip("/")
    repo.mkdir(parents=True)
    shutil.copy(ofed_double, repo / ofed_double.name)
    index = subprocess.run(
        ["dpkg-scanpackages", "--multiversion", "."],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (repo / "Packages").write_text(index)
    sources = host / "etc" / "apt" / "sources.list.d"
    sources.mkdir(parents=True)
    (sources / "aictl-test-doca-host.list").write_text(f"deb [trusted=yes] file:{repo_dir} ./\n")
    return build("doca-host", host, "")


def test_mofed_doca_install_then_installed(lab: Lab, tmp_path: Path) -> None:
    """The default stack, DOCA-OFED: a node at the pin changes nothing; a node on an older
    MLNX_OFED gets DOCA-OFED from DOCA-Host's local repository through apt (test doubles
    of the packages), and the next run changes nothing."""
    topo, _ = lab
    from aictl.lab.hardware import OFED

    assert run(lab, tags="mofed", limit="node04").hosts["node04"]["changed"] == 0
    hw = Path("/run/aictl-lab") / topo.name / "nodes" / "node03" / "etc-lab" / "hardware.json"
    before = hw.read_text()
    old = json.loads(before)
    old["ofed"] = "MLNX_OFED_LINUX-23.10-2.1.3.1"  # a node from before the switch
    hw.write_text(json.dumps(old, indent=1, sort_keys=True))
    # the lab has no Internet: only the local repository may be read by apt
    ssh(lab, "node03", "mkdir -p /etc/apt/off && mv /etc/apt/sources.list.d/* /etc/apt/off/")
    package = _doca_host_repo_package(tmp_path, OFED)
    try:
        extravars = {"mofed_doca_repo_package": str(package)}
        first = run(lab, tags="mofed", limit="node03", extravars=extravars)
        assert first.status == "successful", Path(first.artifacts, "stdout").read_text()[-3000:]
        assert first.hosts["node03"]["changed"] >= 2
        assert "doca-ofed configure" in ssh(lab, "node03", "cat /var/log/aictl-test-double.log")
        assert ssh(lab, "node03", "ofed_info -s").strip() == f"{OFED}:"
        again = run(lab, tags="mofed", limit="node03", extravars=extravars)
        assert again.status == "successful" and again.hosts["node03"]["changed"] == 0
    finally:
        ssh(
            lab,
            "node03",
            "dpkg --purge doca-ofed doca-host >/dev/null 2>&1; "
            "mv /etc/apt/off/* /etc/apt/sources.list.d/ && rmdir /etc/apt/off; "
            "rm -f /var/log/aictl-test-double.log",
        )
        hw.write_text(before)


def test_mofed_mlnx_ofed_and_driver_install_and_installed_paths(lab: Lab, tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, "mofed", "mlnxofedinstall")
    mlnx = {"mofed_stack": "mlnx_ofed", "mofed_bundle": str(bundle)}
    result = run(lab, tags="mofed", limit="node04", extravars=mlnx)
    assert result.status == "successful" and result.hosts["node04"]["changed"] >= 1
    log = ssh(lab, "node04", "cat /var/log/aictl-test-double.log")
    assert "./mlnxofedinstall" in log and "--without-fw-update" in log and "--force" in log
    runfile = tmp_path / "driver.run"
    runfile.write_text(
        "#!/bin/sh\n# TEST DOUBLE (aictl tests)\n"
        'echo "driver $*" >> /var/log/aictl-test-double.log\n'
    )
    runfile.chmod(0o755)
    on_branch = run(lab, tags="gpu", limit="node05")
    assert on_branch.status == "successful"
    assert "driver" not in ssh(lab, "node05", "cat /var/log/aictl-test-double.log 2>/dev/null")
    result = run(
        lab,
        tags="gpu",
        limit="node05",
        extravars={"gpu_driver_branch": "580", "gpu_driver_runfile": str(runfile)},
    )
    assert result.status == "successful"
    assert "driver --silent --no-questions --dkms" in ssh(
        lab, "node05", "cat /var/log/aictl-test-double.log"
    )


HELM_DOUBLE = r"""#!/bin/sh
# TEST DOUBLE (aictl tests): a stand-in helm that records its calls and remembers the release
s=/var/lib/aictl-test-double; mkdir -p $s
echo "helm $* KUBECONFIG=$KUBECONFIG" >> /var/log/aictl-test-double.log
case "$1" in
  list) cat $s/release 2>/dev/null || echo '[]' ;;
  upgrade) v=$(echo "$*" | sed -n 's/.*--version \([^ ]*\).*/\1/p')
    printf '[{"name":"network-operator","chart":"network-operator-%s",' "$v" > $s/release
    echo '"status":"deployed"}]' >> $s/release ;;
esac
"""

KUBECTL_DOUBLE = r"""#!/bin/sh
# TEST DOUBLE (aictl tests): a stand-in kubectl that records its calls and remembers what was
# applied (arguments and file contents), so diff says "differs" until the same was applied
s=/var/lib/aictl-test-double; mkdir -p $s; touch $s/applied
echo "kubectl $* KUBECONFIG=$KUBECONFIG" >> /var/log/aictl-test-double.log
verb=$1; shift
sig=$( (echo "$*"; for a in "$@"; do f=${a#--filename=}; [ -f "$f" ] && cat "$f"
  [ -d "$f" ] && cat "$f"/*; done) | md5sum | cut -c1-32)
case "$verb" in
  diff) grep -qx "$sig" $s/applied && exit 0; echo "differs"; exit 1 ;;
  apply) grep -qx "$sig" $s/applied || echo "$sig" >> $s/applied; echo "applied" ;;
  label) if grep -qx "$sig" $s/applied; then echo "node/$2 not labeled"
    else echo "$sig" >> $s/applied; echo "node/$2 labeled"; fi ;;
esac
"""


def test_k8s_network_applies_to_a_cluster_then_converges(lab: Lab) -> None:
    """With a kubeconfig on the first control-plane node, the play installs the pinned chart,
    applies the policies and networks (not the acceptance job) and labels the nodes; a second
    run changes nothing. helm and kubectl are test doubles: the lab has no Kubernetes."""
    setup = (
        "mkdir -p /etc/kubernetes && echo 'apiVersion: v1' > /etc/kubernetes/admin.conf && "
        f"cat > /usr/local/bin/helm <<'EOF'\n{HELM_DOUBLE}EOF\n"
        f"cat > /usr/local/bin/kubectl <<'EOF'\n{KUBECTL_DOUBLE}EOF\n"
        "chmod 755 /usr/local/bin/helm /usr/local/bin/kubectl && "
        "rm -f /var/log/aictl-test-double.log"
    )
    ssh(lab, "node01", setup)
    try:
        first = run(lab, tags="k8s_network")
        assert first.status == "successful", first.artifacts
        assert first.hosts["node01"]["changed"] >= 3
        log = ssh(lab, "node01", "cat /var/log/aictl-test-double.log")
        assert "KUBECONFIG=/etc/kubernetes/admin.conf" in log
        assert "--repo https://helm.ngc.nvidia.com/nvidia --version 26.7.1" in log
        assert "kubectl apply --filename=/var/lib/aictl/k8s/10-nicclusterpolicy.yaml" in log
        assert "30-networks.yaml" in log and "50-nccl-mpijob" not in log
        assert "kubectl apply -k /var/lib/aictl/k8s/whereabouts" in log
        assert "kubectl label node node08 --overwrite" in log
        again = run(lab, tags="k8s_network")
        assert again.status == "successful"
        assert again.hosts["node01"]["changed"] == 0
        assert ssh(lab, "node01", "grep -c 'helm upgrade' /var/log/aictl-test-double.log") == "1\n"
    finally:
        ssh(
            lab,
            "node01",
            "rm -rf /usr/local/bin/helm /usr/local/bin/kubectl /etc/kubernetes "
            "/var/lib/aictl-test-double /var/lib/aictl/k8s",
        )


def test_playbooks_pass_ansible_lint_production_offline(tmp_path: Path) -> None:
    lint = Path(__import__("sys").executable).with_name("ansible-lint")
    if not lint.exists():
        pytest.skip("ansible-lint not installed")
    cmd = [str(lint), "--offline", "--nocolor", "-f", "pep8", "playbooks"]
    if os.geteuid() == 0 and shutil.which("unshare"):
        cmd = ["unshare", "-n", *cmd]  # proof that it needs no network
    env = {**os.environ, "HOME": str(tmp_path), "ANSIBLE_HOME": str(tmp_path / ".ansible")}
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Profile 'production' was required, and it passed" in p.stdout + p.stderr
