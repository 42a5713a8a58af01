"""The lab end to end, as root: up, strict-host-key SSH to every node, isolated roots, the
fabric from the head node, every fault injected and cleared, two labs side by side, and
nothing left after `lab down`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aictl.lab import RUN_ROOT, _tag, lab_clear, lab_down, lab_inject, lab_status, lab_up
from aictl.spec.loader import load_preset, parse_spec_text, preset_text
from aictl.topology import build_topology
from aictl.topology.model import Topology
from tests.conftest import require_tools

pytestmark = pytest.mark.lab

Lab = tuple[Topology, Path, dict[str, Any]]


def _require() -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    require_tools(
        "ip", "unshare", "/usr/sbin/sshd", "ssh", "ssh-keygen", "ibsim", "opensm", "ibnetdiscover"
    )


def _plan(text: str, name: str) -> Topology:
    loaded = parse_spec_text(text, name)
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    _require()
    loaded = load_preset("lab-small")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    build = tmp_path_factory.mktemp("lab") / "build"
    lab_down(topo.name, build=build)  # a lab left by an earlier, killed run
    started = time.monotonic()
    status = lab_up(topo, build=build)
    status["wall"] = time.monotonic() - started
    yield topo, build, status
    lab_down(topo.name)
    _assert_nothing_left(topo.name, build)


def _assert_nothing_left(cluster: str, build: Path) -> None:
    tag = _tag(cluster)
    assert not [
        ln
        for ln in subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True
        ).stdout.splitlines()
        if ln.startswith(f"aictl-{tag}-")
    ]
    links = json.loads(
        subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True).stdout
    )
    assert not [lk["ifname"] for lk in links if lk["ifname"].startswith((f"ai{tag}", f"v{tag}"))]
    assert f"aictl-lab-{tag}" not in Path("/proc/mounts").read_text()
    assert not (RUN_ROOT / cluster).exists()
    assert not (build / "lab").exists()
    live = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if stat[2] != "Z" and (f"/run/aictl-lab/{cluster}" in cmd or f"aictl-{tag}" in cmd):
            live.append(cmd)
    assert not live, live


def ssh(
    build: Path, node: str, command: str, *, known_hosts: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    cfg = build / "lab" / "ssh_config"
    extra = ["-o", f"UserKnownHostsFile={known_hosts}"] if known_hosts else []
    return subprocess.run(
        [
            "ssh",
            "-F",
            str(cfg),
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            *extra,
            node,
            command,
        ],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def test_up_within_bounds_and_every_node_answers_ssh(lab: Lab) -> None:
    topo, build, status = lab
    assert status["wall"] <= 30
    assert [n["sshd"] for n in status["nodes"]] == ["up"] * len(topo.nodes)
    assert status["fabric"] == {"ibsim": "up", "opensm": "up", "routing": "ftree", "head": "node01"}
    for node in topo.nodes:
        assert ssh(build, node.name, "hostname").stdout.strip() == node.name


def test_host_keys_are_verified_strictly(lab: Lab, tmp_path: Path) -> None:
    _, build, _ = lab
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    refused = ssh(build, "node02", "true", known_hosts=empty, check=False)
    assert refused.returncode == 255 and "Host key verification failed" in refused.stderr


def test_each_node_has_its_own_root_and_namespaces(lab: Lab) -> None:
    _, build, _ = lab
    ssh(build, "node01", "echo only-here > /etc/aictl-isolation-check")
    assert ssh(build, "node01", "cat /etc/aictl-isolation-check").stdout.strip() == "only-here"
    assert ssh(build, "node02", "test -e /etc/aictl-isolation-check", check=False).returncode
    assert not Path("/etc/aictl-isolation-check").exists()
    assert ssh(build, "node03", "cat /proc/1/comm").stdout.strip() == "sshd"  # own PID ns
    rail_ip = ssh(build, "node02", "ip -4 -o addr show lan3").stdout.split()[3]
    assert rail_ip == "10.77.17.3/24"
    assert (
        ssh(build, "node02", "ping -c1 -W2 10.77.17.9 >/dev/null; echo $?").stdout.strip() == "0"
    )  # node08's rail-1 address, over the lab's rail bridge


def test_each_node_has_a_fresh_home_and_tmp(lab: Lab) -> None:
    _, build, _ = lab
    host_file = Path(f"/tmp/aictl-host-only-{os.getpid()}")
    host_file.write_text("host\n")
    try:
        out = ssh(
            build,
            "node03",
            f"findmnt -n -o FSTYPE /root; findmnt -n -o FSTYPE /home; findmnt -n -o FSTYPE /tmp;"
            f" ls -A /root; ls -A /home; test -e {host_file} && echo LEAK; true",
        ).stdout.split()
    finally:
        host_file.unlink()
    assert out[:3] == ["tmpfs"] * 3
    assert out[3:] == [".ssh"]  # no .bashrc, .profile, .pyenv, ...; /home empty; /tmp own
    assert (build / "lab" / "id_ed25519").stat().st_mode & 0o777 == 0o600


def test_the_hosts_bashrc_does_not_run_in_a_node(lab: Lab) -> None:
    topo, build, _ = lab
    bashrc = Path("/root/.bashrc")
    marker = RUN_ROOT / topo.name / "shared" / f"bashrc-ran-{os.getpid()}"
    # a no-op on the host itself (no /opt/aictl-lab there); in a node it would leave a file
    line = f"\nif [ -d /opt/aictl-lab ]; then touch /opt/aictl-lab/{marker.name}; fi\n"
    original = bashrc.read_bytes() if bashrc.exists() else None
    try:
        with bashrc.open("ab") as fh:
            fh.write(line.encode())
        assert ssh(build, "node02", "echo ran").stdout.strip() == "ran"
        assert ssh(build, "node02", "bash -ic true", check=False).returncode == 0
    finally:
        if original is None:
            bashrc.unlink()
        else:
            bashrc.write_bytes(original)
    assert not marker.exists()


def test_ssh_in_a_node_uses_the_nodes_files_and_no_caller_env(lab: Lab) -> None:
    topo, build, _ = lab
    cfg = ssh(build, "node01", "ssh -G node02").stdout.lower().splitlines()
    assert "identityfile /root/.ssh/id_ed25519" in cfg
    assert "userknownhostsfile /root/.ssh/known_hosts" in cfg
    assert not [ln for ln in cfg if ln.startswith("sendenv")]  # the host's SendEnv LANG LC_*
    assert ssh(build, "node01", "ssh node02 hostname").stdout.strip() == "node02"
    # the nodes' processes (sshd and its sessions) started from a clean environment
    pids = [
        pid
        for ns in (f"aictl-{_tag(topo.name)}-{n.name}" for n in topo.nodes)
        for pid in subprocess.run(
            ["ip", "netns", "pids", ns], capture_output=True, text=True
        ).stdout.split()
    ]
    chrooted = [p for p in pids if os.readlink(f"/proc/{p}/root") != "/"]
    assert len(chrooted) >= len(topo.nodes)
    for pid in chrooted:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"PYTEST_CURRENT_TEST" not in environ and b"PYENV_ROOT" not in environ


def test_simulated_tools_and_the_fabric(lab: Lab) -> None:
    _, build, _ = lab
    out = ssh(build, "node04", "nvidia-smi topo -m; ibstat; ofed_info -s").stdout
    assert "# aictl-lab: simulated nvidia-smi output (node04)" in out
    assert out.count("State: Active") == 4 and "OFED-internal-" in out
    disc = ssh(build, "node01", "ibnetdiscover").stdout
    cas = re.findall(r'^Ca\s+\d+\s+"[^"]+"\s+# "([^"]+)"', disc, re.M)
    assert len(cas) == 32 and "node08 mlx5_3" in cas
    lid = ssh(build, "node05", "ibstat mlx5_2").stdout
    assert re.search(r"Base lid: [1-9]\d*", lid)


def test_every_fault_shows_and_clears(lab: Lab) -> None:
    topo, build, _ = lab
    c = topo.name
    lab_inject(c, "slow-nic", host="node03", rail=2, factor=0.5)
    lab_inject(c, "port-down", host="node02", rail=1)
    lab_inject(c, "swap-cables", host="node03", rail=0, with_host="node04")
    lab_inject(c, "pcie-degraded", host="node05", gpu=3)
    lab_inject(c, "peermem-missing", host="node06")
    lab_inject(c, "fabricmanager-stopped", host="node07")
    lab_inject(c, "ecc-errors", host="node08", gpu=2)
    lab_inject(c, "sshd-down", host="node01")
    assert len(lab_status(c)["faults"]) == 8
    hw3 = json.loads(ssh(build, "node03", "cat /etc/aictl-lab/hardware.json").stdout)
    assert hw3["nics"][2]["perf_factor"] == 0.5
    assert "State: Down" in ssh(build, "node02", "ibstat mlx5_1").stdout
    assert "Width x8 (downgraded)" in ssh(build, "node05", "lspci -vvv").stdout
    assert "nvidia_peermem" not in ssh(build, "node06", "lsmod").stdout
    assert (
        ssh(build, "node07", "systemctl is-active nvidia-fabricmanager", check=False).stdout.strip()
        == "inactive"
    )
    assert (
        "Pending Page Blacklist            : Yes"
        in ssh(build, "node08", "nvidia-smi -q -d PAGE_RETIREMENT").stdout
    )
    assert ssh(build, "node01", "true", check=False).returncode == 255
    assert {n["name"]: n["sshd"] for n in lab_status(c)["nodes"]}["node01"] == "down"
    # the fabric itself was re-cabled (through ibsim's console) and lost a port
    env = {**os.environ, "IBSIM_SOCKNAME": f"aictl-{_tag(c)}"}
    ns = f"aictl-{_tag(c)}-node01"
    ports = subprocess.run(
        ["ip", "netns", "exec", ns, "ibsim-run", "ibnetdiscover", "-p"],
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    node03 = next(ln for ln in ports.splitlines() if "'node03 mlx5_0' - 'leaf" in ln)
    assert re.search(r"SW\s+\d+\s+4\s", node03)  # node04's slot on the rail-0 leaf
    assert "'node02 mlx5_1'" not in ports
    assert lab_clear(c) == 8
    assert lab_status(c)["faults"] == []
    assert ssh(build, "node01", "hostname").stdout.strip() == "node01"
    assert "State: Active" in ssh(build, "node02", "ibstat mlx5_1").stdout
    ports = ssh(build, "node01", "ibnetdiscover -p").stdout
    node03 = next(ln for ln in ports.splitlines() if "'node03 mlx5_0' - 'leaf" in ln)
    assert re.search(r"SW\s+\d+\s+3\s", node03)
    assert "'node02 mlx5_1'" in ports


def test_two_labs_side_by_side(lab: Lab, tmp_path: Path) -> None:
    text = (
        preset_text("lab-small")
        .replace("name: lab-small", "name: lab-other")
        .replace("10.77.", "10.78.")
        .replace("  count: 8\n  hostname", "  count: 2\n  hostname")
        .replace("members: [node01, node02, node03, node04]", "members: [node01]")
    )
    other = _plan(text, "other.yaml")
    build = tmp_path / "b"
    try:
        status = lab_up(other, build=build)
        assert [n["sshd"] for n in status["nodes"]] == ["up", "up"]
        assert ssh(build, "node01", "hostname -I").stdout.split()[0] == "10.78.0.2"
        assert ssh(lab[1], "node01", "hostname -I").stdout.split()[0] == "10.77.0.2"
        assert lab_status("lab-small")["fabric"]["opensm"] == "up"
    finally:
        lab_down("lab-other")
    _assert_nothing_left("lab-other", build)
    assert lab_status("lab-small")["nodes"][0]["sshd"] == "up"


MPI = "mpirun --allow-run-as-root --mca btl_tcp_if_include bond0 --mca oob_tcp_if_include bond0"


def _perftest(build: Path, server: str, client: str, args: str) -> tuple[str, str, int]:
    srv = subprocess.Popen(
        [
            "ssh",
            "-F",
            str(build / "lab" / "ssh_config"),
            "-o",
            "BatchMode=yes",
            server,
            f"ib_write_bw {args}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(0.5)
    cli = ssh(build, client, f"ib_write_bw {args} {server}", check=False)
    out, _ = srv.communicate(timeout=60)
    return out, cli.stdout, cli.returncode


def _avg(text: str) -> float:
    rows = [ln.split() for ln in text.splitlines() if re.match(r"^ \d+\s+\d+\s", ln)]
    return float(rows[-1][3])


def test_gpudirect_perftest_between_nodes(lab: Lab) -> None:
    topo, build, _ = lab
    args = "-d mlx5_1 -F --report_gbits -s 8388608"
    server, client, rc = _perftest(build, "node02", "node06", f"{args} --use_cuda=2")
    assert rc == 0
    assert client.startswith("# aictl-lab: simulated ib_write_bw output (node06)")
    assert "RDMA_Write BW Test" in client and "Waiting for client to connect" in server
    assert "Picking device No. 2" in client  # GPU 2 sits beside mlx5_1
    assert 0.95 * 200 < _avg(client) < 200
    assert _avg(server) == _avg(client)
    far = _perftest(build, "node02", "node06", f"{args} --use_cuda=7")[1]
    assert _avg(far) < 0.5 * 200  # a GPU on the other side of the host
    lab_inject(topo.name, "slow-nic", host="node06", rail=1, factor=0.5)
    lab_inject(topo.name, "peermem-missing", host="node03")
    try:
        assert 90 < _avg(_perftest(build, "node02", "node06", args)[1]) < 100
        _, out, rc = _perftest(build, "node02", "node03", f"{args} --use_cuda=2")
        assert rc == 1 and "Couldn't allocate MR" in out
    finally:
        lab_clear(topo.name)


def _busbw(out: str, size: int) -> float:
    row = next(ln for ln in out.splitlines() if ln.strip().startswith(f"{size} "))
    return float(row.split()[7])


def test_nccl_tests_under_mpirun(lab: Lab) -> None:
    topo, build, _ = lab
    run = ssh(
        build,
        "node01",
        f"{MPI} -np 16 -H node01:8,node05:8 all_reduce_perf -b 1M -e 1G -f 4 -g 1 -J /tmp/ar.json",
    )
    out = run.stdout
    assert "# nccl-tests version" in out and "# Collective test concluded: all_reduce_perf" in out
    assert out.count("#  Rank ") == 16 and " on     node05 device  7 " in out
    assert _busbw(out, 2**30) == pytest.approx(4 * 200 * 0.92 / 8, rel=0.02)
    report = json.loads(ssh(build, "node01", "cat /tmp/ar.json").stdout)
    assert report["version"] == 3 and report["simulated"] is True
    assert len(report["config"]["devices"]) == 16 and report["results"][-1]["size"] == 2**30
    a2a = ssh(
        build, "node01", f"{MPI} -np 2 -H node02:1,node06:1 alltoall_perf -b 1G -e 1G -g 1"
    ).stdout
    assert _busbw(a2a, 2**30) == pytest.approx(200 * 0.92 / 8, rel=0.02)  # one NIC
    local = ssh(build, "node03", "all_reduce_perf -b 1G -e 1G -g 8").stdout
    assert _busbw(local, 2**30) == pytest.approx(400 / 2 * 0.78, rel=0.02)
    lab_inject(topo.name, "fabricmanager-stopped", host="node05")
    try:
        bad = ssh(
            build,
            "node01",
            f"{MPI} -np 2 -H node01:1,node05:1 all_reduce_perf -b 1G -e 1G -g 1",
            check=False,
        )
        assert bad.returncode != 0
        assert "node05: Test CUDA failure common.cu:1304 'system not yet initialized'" in bad.stdout
    finally:
        lab_clear(topo.name)


def test_exec_fans_out_with_strict_host_keys(lab: Lab, tmp_path: Path) -> None:
    from aictl.remote import ResultKind, SshOptions, Target, group_results, run_all

    topo, build, _ = lab
    key, known = build / "lab" / "id_ed25519", build / "lab" / "known_hosts"
    targets = [Target(n.name, n.mgmt_ip) for n in topo.nodes]
    opts = SshOptions(key=key, known_hosts=known, forks=8, command_timeout=20)
    results = run_all(targets, "ofed_info -s", opts)
    assert all(r.ok for r in results)
    groups = group_results(results)
    assert len(groups) == 1 and groups[0].hosts == "node[01-08]" and groups[0].count == 8
    lab_inject(topo.name, "sshd-down", host="node03")
    try:
        results = run_all(targets, "hostname", opts)
        bad = [r for r in results if not r.ok]
        # sshd going down races the connect: refused, or reset mid-banner; both are unreachable
        assert [r.host for r in bad] == ["node03"] and bad[0].kind is ResultKind.UNREACHABLE
        assert "refused" in bad[0].error or "reset" in bad[0].error
        assert sum(r.ok for r in results) == 7
    finally:
        lab_clear(topo.name)
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    refused = run_all(targets[:1], "true", SshOptions(key=key, known_hosts=empty))[0]
    assert refused.rc is None and "ssh-ed25519 SHA256:" in refused.error
    assert "--accept-new" in refused.error
    accepted = run_all(
        targets[:1], "hostname", SshOptions(key=key, known_hosts=empty, accept_new=True)
    )[0]
    assert accepted.ok and accepted.accepted_key.startswith("ssh-ed25519 SHA256:")
    assert targets[0].address in empty.read_text()
    # a changed key is never accepted, not even with --accept-new
    other_key = (build / "lab" / "known_hosts").read_text().splitlines()[1].split()[1:]
    wrong = tmp_path / "wrong"
    wrong.write_text(f"{targets[0].address} {' '.join(other_key)}\n")
    changed = run_all(targets[:1], "true", SshOptions(key=key, known_hosts=wrong, accept_new=True))[
        0
    ]
    assert changed.rc is None and "HOST KEY CHANGED" in changed.error
    via = run_all(
        [targets[6]], "hostname", SshOptions(key=key, known_hosts=known, jump=targets[0])
    )[0]
    assert via.ok and via.stdout.strip() == "node07"


def test_exec_command_line(lab: Lab) -> None:
    from typer.testing import CliRunner

    from aictl.cli.app import app

    _, build, _ = lab
    result = CliRunner().invoke(
        app,
        [
            "exec",
            "hostname",
            "--preset",
            "lab-small",
            "--target",
            "lab",
            "--out",
            str(build),
            "--limit",
            "su02",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] == 4 and [r["host"] for r in data["results"]] == [
        "node05",
        "node06",
        "node07",
        "node08",
    ]
    bad = CliRunner().invoke(
        app,
        [
            "exec",
            "false",
            "--preset",
            "lab-small",
            "--target",
            "lab",
            "--out",
            str(build),
            "--limit",
            "node0[12]",
        ],
    )
    assert bad.exit_code == 7 and "node[01-02] (2) rc=1" in bad.stdout
