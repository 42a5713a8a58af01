"""Drain and return: the Slurm and Kubernetes backends through recording doubles of their
clients, the circuit breaker, aictl's mark on a reason, the actions log, `aictl drain` /
`undrain` / `check --drain` / `check --local` end to end in-process, the UFM request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from aictl.cli.app import app
from aictl.errors import ExitCode, SchedulerError
from aictl.sched import actions, k8s, service, slurm, ufm
from aictl.sched.actions import ActionLog
from aictl.sched.backend import Backend, Runner, backend
from aictl.sched.breaker import Breaker
from aictl.sched.model import MARK, ActionKind, Scheduler, check_reason, marked, reason_problem
from aictl.spec.loader import load_preset
from aictl.topology import build_topology
from tests.unit._sched_doubles import Doubles

NODES = [f"node{i:02d}" for i in range(1, 9)]


@pytest.fixture
def dbl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Doubles:
    d = Doubles(tmp_path, NODES)
    for k, v in d.env().items():
        monkeypatch.setenv(k, v)
    return d


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


# ---- Slurm's own output -----------------------------------------------------------------
def test_sinfo_states_reasons_and_flags() -> None:
    text = "\n".join(
        [
            "node01|idle|none",
            "node02|drained|aictl: xid: Xid 79 on GPU 3",
            "node03|draining|aictl: gpu: 7 GPUs | profile has 8",
            "node04|drained*|hand: PSU swap",
            "node05|mixed|none",
            "node05|mixed|none",
            "node06|down*|Not responding",
            "node07|idle+drain|aictl: hca",
        ]
    )
    got = slurm.parse_sinfo(text)
    assert list(got) == [f"node0{i}" for i in range(1, 8)]
    assert [n for n, s in got.items() if s.drained] == ["node02", "node03", "node04", "node07"]
    assert [n for n, s in got.items() if s.by_aictl] == ["node02", "node03", "node07"]
    # the reason is the last field: a '|' inside it is kept
    assert got["node03"].reason == "aictl: gpu: 7 GPUs | profile has 8"
    assert got["node01"].reason == "" and got["node06"].reason == "Not responding"


# ---- the breaker ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fleet", "limit"), [(1, 1), (8, 1), (19, 1), (20, 2), (50, 5), (80, 8), (200, 8), (10000, 8)]
)
def test_breaker_limit_is_the_smaller_of_share_and_count(fleet: int, limit: int) -> None:
    assert Breaker().limit(fleet) == limit


def test_breaker_counts_what_aictl_already_holds() -> None:
    b = Breaker()
    b.admit(200, {"a", "b"}, ["c"])
    with pytest.raises(SchedulerError) as exc:
        b.admit(200, {f"n{i}" for i in range(7)}, ["x", "y"])
    assert "9 of 200 drained by aictl (7 already)" in exc.value.message
    assert "--force" in exc.value.hint
    b.admit(200, {f"n{i}" for i in range(7)}, ["x", "y"], force=True)
    # a node already held does not count twice
    b.admit(20, {"a", "b"}, ["a"])


# ---- reasons ----------------------------------------------------------------------------
@given(st.text(max_size=400))
def test_any_text_becomes_a_valid_marked_reason(text: str) -> None:
    r = marked(text or "x")
    assert r.startswith(MARK)
    assert reason_problem(r) == "" or r.strip() == MARK


@given(st.text(max_size=300))
def test_any_reason_gives_a_taint_the_api_server_accepts(text: str) -> None:
    arg = k8s.taint_arg(marked(text or "x"))
    key, rest = arg.split("=", 1)
    value, effect = rest.rsplit(":", 1)
    assert key == k8s.TAINT_KEY and effect == "NoSchedule"
    assert k8s._VALUE.fullmatch(value) and 0 < len(value) <= 63


def test_check_reason_names_the_check_first() -> None:
    assert check_reason("xid", "Xid 79 on GPU 3: fallen off the bus") == (
        "aictl: xid: Xid 79 on GPU 3: fallen off the bus"
    )
    assert reason_problem("two\nlines") and reason_problem("")


# ---- the service through the Slurm double -----------------------------------------------
def _slurm() -> Backend:
    return backend(Scheduler.slurm, Runner())


def test_slurm_drain_then_undrain(dbl: Doubles, tmp_path: Path) -> None:
    log = ActionLog(tmp_path / "build")
    out = service.drain(_slurm(), {"node03": marked("xid: Xid 79")}, fleet=8, log=log, command="")
    assert [a.kind for a in out.actions] == [ActionKind.drain]
    assert dbl.nodes()["node03"] == {**dbl.nodes()["node03"], "state": "drained"}
    assert [
        "scontrol",
        "update",
        "NodeName=node03",
        "State=DRAIN",
        "Reason=aictl: xid: Xid 79",
    ] in (dbl.calls())
    # again, same reason: nothing is sent
    n = len(dbl.calls())
    again = service.drain(
        _slurm(), {"node03": marked("xid: Xid 79")}, fleet=8, log=log, command="t"
    )
    assert [a.kind for a in again.actions] == [ActionKind.kept]
    assert not [c for c in dbl.calls()[n:] if c[0] == "scontrol"]
    back = service.undrain(_slurm(), ["node03"], log=log, command="t")
    assert [a.kind for a in back.actions] == [ActionKind.undrain]
    assert dbl.nodes()["node03"]["state"] == "idle"
    logged = actions.read(tmp_path / "build")
    assert [(a.kind, a.node) for a in logged] == [
        (ActionKind.drain, "node03"),
        (ActionKind.kept, "node03"),
        (ActionKind.undrain, "node03"),
    ]
    assert all(a.at.endswith("Z") and a.scheduler == "slurm" for a in logged)


def test_a_drain_by_another_hand_is_never_touched(dbl: Doubles, tmp_path: Path) -> None:
    dbl.set("node04", state="drained", reason="PSU swap (ticket 4411)")
    log = ActionLog(None)
    out = service.drain(_slurm(), {"node04": marked("gpu: 7 GPUs")}, fleet=8, log=log, command="t")
    assert [a.kind for a in out.actions] == [ActionKind.kept]
    back = service.undrain(_slurm(), ["node04"], log=log, command="t")
    assert [a.kind for a in back.actions] == [ActionKind.refused]
    assert dbl.nodes()["node04"]["reason"] == "PSU swap (ticket 4411)"
    assert not [c for c in dbl.calls() if c[0] == "scontrol"]


def test_breaker_refusal_is_logged_and_nothing_drained(dbl: Doubles, tmp_path: Path) -> None:
    log = ActionLog(tmp_path / "b")
    with pytest.raises(SchedulerError):
        service.drain(
            _slurm(), {n: marked("xid") for n in NODES[:2]}, fleet=8, log=log, command="t"
        )
    assert all(s["state"] == "idle" for s in dbl.nodes().values())
    assert [a.kind for a in actions.read(tmp_path / "b")] == [ActionKind.refused] * 2


def test_undrain_keeps_a_node_that_still_fails(dbl: Doubles) -> None:
    dbl.set("node02", state="drained", reason="aictl: hca: mlx5_2 down")
    out = service.undrain(
        _slurm(), ["node02"], log=ActionLog(None), command="t", failing={"node02": "hca: down"}
    )
    assert [a.kind for a in out.actions] == [ActionKind.kept]
    assert dbl.nodes()["node02"]["state"] == "drained"


def test_unknown_node_is_one_error(dbl: Doubles) -> None:
    with pytest.raises(SchedulerError, match="does not know node"):
        service.drain(_slurm(), {"gpu999": marked("x")}, fleet=8, log=ActionLog(None), command="")


# ---- Kubernetes through the kubectl double ----------------------------------------------
def test_k8s_cordon_taint_and_reason_then_return(dbl: Doubles) -> None:
    be = backend(Scheduler.k8s, Runner())
    reason = marked("nvlink: 2 of 18 links inactive on GPU 5")
    service.drain(be, {"node05": reason}, fleet=8, log=ActionLog(None), command="t")
    s = dbl.nodes()["node05"]
    assert s["unschedulable"] is True
    assert s["taints"] == [{"key": k8s.TAINT_KEY, "value": "nvlink", "effect": "NoSchedule"}]
    assert s["ann"] == {k8s.REASON: reason, k8s.CORDONED: "true"}
    assert be.states(["node05"])["node05"].by_aictl
    service.undrain(be, ["node05"], log=ActionLog(None), command="t")
    s = dbl.nodes()["node05"]
    assert (s["unschedulable"], s["taints"], s["ann"]) == (False, [], {})


def test_k8s_leaves_an_operators_cordon_in_place(dbl: Doubles) -> None:
    dbl.set("node06", unschedulable=True)
    be = backend(Scheduler.k8s, Runner())
    # cordoned by hand, no aictl taint: drained by another hand
    out = service.drain(be, {"node06": marked("xid")}, fleet=8, log=ActionLog(None), command="")
    assert [a.kind for a in out.actions] == [ActionKind.kept]
    dbl.set("node06", unschedulable=True, taints=[], ann={})
    dbl.set("node07", unschedulable=False)
    service.drain(be, {"node07": marked("xid")}, fleet=8, log=ActionLog(None), command="")
    dbl.set("node07", unschedulable=True, ann={k8s.REASON: marked("xid")})  # the operator also
    service.undrain(be, ["node07"], log=ActionLog(None), command="")
    # aictl's taint is gone; the cordon aictl did not record as its own stays
    assert dbl.nodes()["node07"]["taints"] == []
    assert dbl.nodes()["node07"]["unschedulable"] is True


# ---- the CLI ----------------------------------------------------------------------------
def test_cli_drain_and_undrain(dbl: Doubles, tmp_path: Path) -> None:
    out = tmp_path / "build"
    r = cli("drain", "node05", "--reason", "Xid 79 on GPU 3", "-p", "lab-small", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "node05 drained (slurm): aictl: Xid 79 on GPU 3" in r.output
    assert dbl.nodes()["node05"]["reason"] == "aictl: Xid 79 on GPU 3"
    # a second node is over the breaker for 8 nodes (limit 1)
    r = cli("drain", "node06", "--reason", "x", "-p", "lab-small", "--out", str(out))
    assert r.exit_code == ExitCode.SCHEDULER, r.output
    assert "circuit breaker" in r.output and dbl.nodes()["node06"]["state"] == "idle"
    r = cli("drain", "node06", "--reason", "x", "-p", "lab-small", "--out", str(out), "--force")
    assert r.exit_code == 0, r.output
    r = cli("undrain", "node05,node06", "-p", "lab-small", "--out", str(out), "--no-check")
    assert r.exit_code == 0, r.output
    assert all(s["state"] == "idle" for s in dbl.nodes().values())
    log = [json.loads(ln) for ln in (out / "actions.jsonl").read_text().splitlines()]
    assert [(a["action"], a["node"]) for a in log] == [
        ("drain", "node05"),
        ("refused", "node06"),
        ("drain", "node06"),
        ("undrain", "node05"),
        ("undrain", "node06"),
    ]
    assert log[0]["command"] == "aictl drain node05 --reason 'Xid 79 on GPU 3'"


def test_cli_undrain_refuses_a_hand_drain(dbl: Doubles, tmp_path: Path) -> None:
    dbl.set("node02", state="drained", reason="memory test")
    r = cli("undrain", "node02", "-p", "lab-small", "--out", str(tmp_path), "--no-check")
    assert r.exit_code == ExitCode.SCHEDULER, r.output
    assert "not drained by aictl" in r.output
    assert dbl.nodes()["node02"]["state"] == "drained"


def test_cli_bad_reason_is_a_usage_error(dbl: Doubles, tmp_path: Path) -> None:
    r = cli("drain", "node02", "--reason", "a\nb", "-p", "lab-small", "--out", str(tmp_path))
    assert r.exit_code == ExitCode.USAGE and "--reason" in r.output
    assert not dbl.calls()


def test_cli_without_the_client_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    r = cli("drain", "node02", "--reason", "x", "-p", "lab-small", "--out", str(tmp_path))
    assert r.exit_code == ExitCode.SCHEDULER and "sinfo: not found on PATH" in r.output


# ---- UFM ----------------------------------------------------------------------------------
def test_ufm_request_isolates_the_switch_side_of_the_rail_cable(
    dbl: Doubles, tmp_path: Path
) -> None:
    topo = build_topology(load_preset("lab-small").spec, spec_sha256="x")
    req = ufm.isolate_request(topo, "node02", "mlx5_2", marked("link errors"))
    cable = ufm.rail_cable(topo, "node02", "mlx5_2")
    assert (req["switch"], req["switch_port"], req["cable"]) == (
        cable.b_device,
        cable.b_port,
        cable.id,
    )
    [port] = req["body"]["ports"]
    guid, num = port.split("_")
    assert len(guid) == 16 and int(guid, 16) and num == cable.b_port
    assert req["method"] == "PUT" and req["path"] == "/ufmRest/app/unhealthy_ports"
    r = cli(
        "drain",
        "node02",
        "-r",
        "link errors",
        "--isolate-port",
        "mlx5_2",
        "-p",
        "lab-small",
        "--out",
        str(tmp_path / "b"),
    )
    assert r.exit_code == 0, r.output
    written = json.loads((tmp_path / "b" / "ufm" / "isolate-node02-mlx5_2.json").read_text())
    assert written["body"] == req["body"]
    r = cli(
        "drain",
        "node03",
        "-r",
        "x",
        "--isolate-port",
        "mlx5_9",
        "-p",
        "lab-small",
        "--out",
        str(tmp_path / "b"),
    )
    assert r.exit_code == ExitCode.USAGE and "no rail 'mlx5_9'" in r.output


# ---- check --local: the health check a node runs on itself --------------------------------
@pytest.fixture
def node_profile(tmp_path: Path) -> tuple[Path, object]:
    """node03's installed profile (as render writes it) and a fake cluster answering its
    preflight script with the lab's simulated tools."""
    from aictl.render import render_all
    from tests.unit._fake_cluster import FakeCluster

    topo = build_topology(load_preset("lab-small").spec, spec_sha256="x")
    [art] = [
        a
        for a in render_all(topo, targets=["hosts"]).artifacts
        if a.path.endswith("etc/aictl/profile.json")
    ]
    path = tmp_path / "profile.json"
    path.write_bytes(art.data)
    return path, FakeCluster(topo, tmp_path)


def _local(monkeypatch: pytest.MonkeyPatch, cluster: object, *args: str) -> Result:
    from aictl.sched import local

    def answer(script: str, timeout: float) -> tuple[int | None, str]:
        return 0, cluster.respond("node03", script).stdout  # type: ignore[attr-defined]

    monkeypatch.setattr(local, "run_script", answer)
    return cli("check", "--local", "--node", "node03", *args)


def test_local_check_passes_a_healthy_node(
    dbl: Doubles, node_profile: tuple[Path, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, cluster = node_profile
    r = _local(monkeypatch, cluster, "--profile", str(path), "--drain")
    assert r.exit_code == 0, r.output
    assert "node03: " in r.output and "checks pass (hgx-a800)" in r.output
    assert not [c for c in dbl.calls() if c[0] == "scontrol"]


def test_local_check_drains_its_node_and_returns_it_when_fixed(
    dbl: Doubles, node_profile: tuple[Path, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, cluster = node_profile
    cluster.inject(kind="fabricmanager-stopped", host="node03")  # type: ignore[attr-defined]
    r = _local(monkeypatch, cluster, "--profile", str(path), "--drain")
    assert r.exit_code == ExitCode.PREFLIGHT_FAILED, r.output
    # one line per failure, the node and the check first
    assert "node03 fabricmanager: " in r.output
    state = dbl.nodes()["node03"]
    assert state["state"] == "drained"
    assert str(state["reason"]).startswith("aictl: fabricmanager: ")
    # the next run, still failing: the drain is kept, nothing sent again
    n = len(dbl.calls())
    r = _local(monkeypatch, cluster, "--profile", str(path), "--drain")
    assert r.exit_code == ExitCode.PREFLIGHT_FAILED
    assert not [c for c in dbl.calls()[n:] if c[0] == "scontrol"]
    # fixed: the node comes back
    cluster.hw["node03"]["fabricmanager"] = "active"  # type: ignore[attr-defined]
    r = _local(monkeypatch, cluster, "--profile", str(path), "--drain")
    assert r.exit_code == 0, r.output
    assert dbl.nodes()["node03"]["state"] == "idle"
    assert "node03 returned (slurm)" in r.output


def test_local_check_never_returns_a_hand_drain(
    dbl: Doubles, node_profile: tuple[Path, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, cluster = node_profile
    dbl.set("node03", state="drained", reason="BIOS update")
    r = _local(monkeypatch, cluster, "--profile", str(path), "--drain")
    assert r.exit_code == 0, r.output
    assert dbl.nodes()["node03"] == {**dbl.nodes()["node03"], "reason": "BIOS update"}


def test_local_check_holds_the_breaker_against_the_fleet(
    dbl: Doubles, node_profile: tuple[Path, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, cluster = node_profile
    dbl.set("node01", state="drained", reason="aictl: xid: Xid 79")
    cluster.inject(kind="fabricmanager-stopped", host="node03")  # type: ignore[attr-defined]
    r = _local(monkeypatch, cluster, "--profile", str(path), "--drain")
    assert r.exit_code == ExitCode.SCHEDULER, r.output
    assert "circuit breaker" in r.output and dbl.nodes()["node03"]["state"] == "idle"


def test_local_check_without_a_profile_is_one_line(tmp_path: Path) -> None:
    r = cli("check", "--local", "--profile", str(tmp_path / "none.json"))
    assert r.exit_code == ExitCode.USAGE
    assert "none.json" in r.output and "aictl render writes it" in r.output
    (tmp_path / "bad.json").write_text('{"kind": "x"}')
    r = cli("check", "--local", "--profile", str(tmp_path / "bad.json"))
    assert r.exit_code == ExitCode.USAGE and "not a node profile" in r.output


def test_accept_drains_only_the_nodes_the_verdict_is_sure_of() -> None:
    from aictl.cli.accept import drain_reasons

    suspects: list[dict[str, object]] = [
        {"node": "node05", "rail": 2, "kind": "pair-confirmed", "reason": "rail 2 GDR 96 GB/s"},
        {"node": "node05", "kind": "gdr-low", "reason": "again"},
        {"node": "node06", "kind": "pair-unconfirmed", "reason": "low, no good partner"},
        {"link": "leaf-su01-r0 - spine-01", "kind": "link", "reason": "slow path"},
        {"node": "node07", "kind": "unreachable", "reason": "ssh refused"},
    ]
    assert drain_reasons(suspects, "run-0004") == {
        "node05": "aictl: accept pair-confirmed: rail 2 GDR 96 GB/s (run-0004)",
        "node07": "aictl: accept unreachable: ssh refused (run-0004)",
    }


@pytest.mark.parametrize(("node", "vendor"), [("mi01", "amd"), ("npu01", "huawei")])
def test_local_check_judges_each_vendor_with_its_own_tools(
    node: str, vendor: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An AMD or Ascend node checks itself with its vendor's facts (amd-smi, npu-smi), not
    NVIDIA's, and passes when healthy."""
    from aictl.render import render_all
    from aictl.sched import local
    from tests.unit._fake_cluster import FakeCluster

    topo = build_topology(load_preset("mixed-vendor-lab").spec, spec_sha256="x")
    group = topo.node(node).profile
    [art] = [
        a
        for a in render_all(topo, targets=["hosts"]).artifacts
        if a.path == f"profiles/{group}/etc/aictl/profile.json"
    ]
    path = tmp_path / "profile.json"
    path.write_bytes(art.data)
    cluster = FakeCluster(topo, tmp_path)
    scripts: list[str] = []

    def answer(script: str, timeout: float) -> tuple[int | None, str]:
        scripts.append(script)
        return 0, cluster.respond(node, script).stdout

    monkeypatch.setattr(local, "run_script", answer)
    r = cli("check", "--local", "--node", node, "--profile", str(path))
    assert r.exit_code == 0, r.output
    assert f"checks pass ({group})" in r.output
    assert "nvidia-smi" not in scripts[0]
    assert ("amd-smi" if vendor == "amd" else "npu-smi") in scripts[0]
