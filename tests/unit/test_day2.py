"""Day-2 faults on the in-process fake cluster and on real outputs: the Xid catalogue and the
kernel log's window, throttling, DCGM skips, fabric port counters over a window mapped to
cables, `--watch` transitions and the Prometheus file (read back by a strict parser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aictl.checks import commands, health, preflight, prom, watch
from aictl.checks.rules import NodeFacts
from aictl.fabric.counters import check_counters, gather
from aictl.facts.dcgm import parse_dcgm_diag
from aictl.facts.ibcounters import parse_ibqueryerrors
from aictl.facts.kernel import parse_kernel_log
from aictl.facts.xid import XidAction, classify
from aictl.remote import Target
from aictl.remote.fake import FakeExecutor, Reply
from aictl.spec.loader import load_preset
from aictl.status import Status
from aictl.topology import build_topology
from aictl.topology.model import Topology
from tests.conftest import TESTS
from tests.unit import _promtext
from tests.unit._fake_cluster import FakeCluster

CASES = TESTS / "facts"


def _topo() -> Topology:
    loaded = load_preset("lab-small")
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


def _targets(topo: Topology) -> list[Target]:
    return [Target(n.name, n.mgmt_ip) for n in topo.nodes]


# ---- the kernel log ----------------------------------------------------------------------
XID = "NVRM: Xid (PCI:0000:19:00): {code}, pid=1, name=x, text"


def test_only_events_inside_the_window_count() -> None:
    log = "\n".join(
        [
            "# aictl clock 1767229200 uptime 7200 window 3600",  # 01:00, a one-hour window
            f"2025-12-31T23:30:00,000000+00:00 {XID.format(code=48)}",  # 90 min ago
            f"2026-01-01T00:30:00,000000+00:00 {XID.format(code=13)}",  # 30 min ago
            f"[ 1000.000000] {XID.format(code=79)}",  # boot-relative: 6200 s ago
            f"[ 6000.000000] {XID.format(code=94)}",  # 1200 s ago
        ]
    )
    counts = {e.code: e.count for e in parse_kernel_log(log).events}
    assert counts == {13: 1, 48: 0, 79: 0, 94: 1}
    f = NodeFacts({"kernel-log": parse_kernel_log(log)})
    status, message, fix = health.xid(_topo().profile("node01"), f)
    assert status is Status.WARN and "Xid 94" in message and "Xid 48" not in message
    assert "restart the job" in fix


def test_a_saved_log_is_read_whole_and_the_worst_action_decides() -> None:
    log = f"{XID.format(code=13)}\n{XID.format(code=79)}\n{XID.format(code=45)}\n"
    f = NodeFacts({"kernel-log": parse_kernel_log(log)})
    status, message, fix = health.xid(_topo().profile("node01"), f)
    assert status is Status.FAIL and message.index("Xid 79") < message.index("Xid 13")
    assert "Xid 45" not in message  # a consequence of an earlier error: ignored
    assert fix.startswith("drain and reboot")


def test_catalogue_actions_and_xid_154_reads_its_verdict() -> None:
    assert classify(48).action is XidAction.RESET_GPU
    assert classify(13).action is XidAction.RESTART_JOB
    assert classify(147).action is XidAction.RESET_GPU  # the NVLink range 144..150
    assert classify(9999).action is XidAction.LOOK_UP
    text = "GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)"
    assert classify(154, text).action is XidAction.REBOOT
    assert classify(154, "changed from 0x0 (None) to 0x1 (GPU Reset Required)").action is (
        XidAction.RESET_GPU
    )


def test_sxid_severity_from_its_words() -> None:
    log = (
        "nvidia-nvswitch3: SXid (PCI:0000:05:00.0): 20034, Fatal, Link 30 LTSSM Fault Up\n"
        "nvidia-nvswitch1: SXid (PCI:0000:86:00.0): 12028, Non-fatal, Link 61 egress error\n"
    )
    events = {e.code: e for e in parse_kernel_log(log).events}
    assert events[20034].action is XidAction.REBOOT and events[12028].action is XidAction.WATCH


def test_the_real_talos_sxid_data_line_is_not_a_second_event() -> None:
    text = (CASES / "kernel-log" / "real-talos-sxid-24007-severity.txt").read_text()
    (event,) = parse_kernel_log(text).events
    assert event.count == 1 and event.action is XidAction.REBOOT  # no severity word: safe side


# ---- throttling, DCGM ----------------------------------------------------------------------
def test_software_thermal_slowdown_warns_and_power_cap_is_named_only(tmp_path: Path) -> None:
    topo = _topo()
    cluster = FakeCluster(topo, tmp_path)
    cluster.hw["node01"]["gpus"][2]["clock_events"] = ["SW Thermal Slowdown", "SW Power Cap"]
    report = preflight.run(topo, _targets(topo)[:1], cluster.executor())
    row = {r.check: r for r in report.rows["node01"]}
    assert row["throttle"].status is Status.WARN
    assert "GPU2 SW Thermal Slowdown" in row["throttle"].message
    assert "power cap: GPU2" in row["throttle"].message


def test_dcgm_not_asked_and_not_installed_are_skips_not_passes(tmp_path: Path) -> None:
    topo = _topo()
    report = preflight.run(topo, _targets(topo)[:1], FakeCluster(topo, tmp_path).executor())
    dcgm = next(r for r in report.rows["node01"] if r.check == "dcgm")
    assert dcgm.status is Status.SKIP and "--dcgm" in dcgm.message
    absent = parse_dcgm_diag("aictl: dcgmi not installed\n")
    status, message, _ = health.dcgm(topo.profile("node01"), NodeFacts({"dcgm": absent}))
    assert status is Status.SKIP and "not installed" in message and absent.ok


def test_dcgm_level_goes_into_the_command(tmp_path: Path) -> None:
    topo = _topo()
    seen: list[str] = []
    cluster = FakeCluster(topo, tmp_path)
    cluster.before = lambda host, command: seen.append(command)
    preflight.run(
        topo, _targets(topo)[:1], cluster.executor(), options=commands.Options(3600, dcgm=3)
    )
    assert "dcgmi diag -r 3 -j" in seen[0] and "window 3600" in seen[0]


def test_a_dcgm_test_failing_with_every_gpu_passing_blames_no_gpu() -> None:
    from tests.conftest import require_shared

    text = (
        require_shared("samples") / "dcgmi_diag_r2_8xB200_dcgm4.4.1_pcie_fail_per_gpu_pass.txt"
    ).read_text()
    f = NodeFacts({"dcgm": parse_dcgm_diag(text)})
    status, message, _ = health.dcgm(_topo().profile("node01"), f)
    assert status is Status.FAIL and message.startswith("pcie (no GPU blamed)")


# ---- fabric port counters ------------------------------------------------------------------
def _qe(case: str) -> str:
    return (CASES / "ibqueryerrors" / f"ibsim-lab-small-{case}.txt").read_text()


def test_counters_once_map_each_bad_port_to_its_cable() -> None:
    part = check_counters(_topo(), parse_ibqueryerrors(_qe("errors")))
    kinds = [(f["kind"], f["detail"]["cable"], f["severity"]) for f in part["findings"]]
    assert kinds == [
        ("link-errors", "nl-00006", "error"),
        ("link-flap", "nl-00023", "error"),
        ("link-errors", "nl-00023", "error"),
    ]
    first = part["findings"][0]
    assert first["where"] == "cable nl-00006 leaf-su01-r1 port 2 - node02 mlx5_1 (rack01)"
    assert first["fix"].startswith("reseat or replace cable nl-00006 between leaf-su01-r1")
    assert part["ports_checked"] == 128


def test_a_window_judges_the_rise_not_the_old_count() -> None:
    topo = _topo()
    outputs = iter([_qe("errors"), _qe("errors").replace("== 37]", "== 39]")])
    executor = FakeExecutor(lambda host, cmd: Reply(next(outputs), 1))
    slept: list[float] = []
    first, second = gather(Target("node01", "x"), executor, 30, sleep=slept.append)
    part = check_counters(topo, first, second, window_s=30)
    assert slept == [30]
    (only,) = part["findings"]  # node02's HCA end rose by 2: a warning, nothing else
    assert only["kind"] == "link-errors" and only["severity"] == "warning"
    assert "SymbolErrorCounter 2" in only["message"] and "in 30 s" in only["message"]
    # a counter cleared meanwhile reads below its baseline: what it shows now is new
    cleared = parse_ibqueryerrors(_qe("errors").replace("== 500]", "== 12]"))
    again = check_counters(topo, parse_ibqueryerrors(_qe("errors")), cleared, window_s=30)
    assert [f["detail"]["cable"] for f in again["findings"]] == ["nl-00006"]


def test_clean_fabric_has_no_findings() -> None:
    part = check_counters(_topo(), parse_ibqueryerrors(_qe("clean")))
    assert part["findings"] == [] and part["ports_checked"] == 128


# ---- watch and the Prometheus file ---------------------------------------------------------
def test_watch_prints_only_transitions(tmp_path: Path) -> None:
    topo = _topo()
    cluster = FakeCluster(topo, tmp_path)
    targets = _targets(topo)[:3]
    rounds: list[list[watch.Transition]] = []

    def once() -> preflight.PreflightReport:
        if len(rounds) == 1:
            cluster.inject(kind="throttle", host="node02", gpu=1)
        if len(rounds) == 2:
            cluster.hw["node02"]["gpus"][1]["clock_events"] = []
        return preflight.run(topo, targets, cluster.executor())

    last = watch.watch(once, 5, lambda n, r, t: rounds.append(t), rounds=4, sleep=lambda s: None)
    changes = [[(t.node, t.check, t.old, t.new) for t in r] for r in rounds]
    skips = {(t.node, t.check) for t in rounds[0]}
    assert all(t.new == "skip" for t in rounds[0]) and ("node01", "dcgm") in skips
    assert changes[1:] == [
        [("node02", "throttle", "ok", "fail")],
        [("node02", "throttle", "fail", "ok")],
        [],
    ]
    assert last.ok


def test_prometheus_exposition_reads_back(tmp_path: Path) -> None:
    topo = _topo()
    cluster = FakeCluster(topo, tmp_path)
    cluster.inject(kind="xid", host="node03", gpu=2, at=1767225600.0)
    report = preflight.run(topo, _targets(topo), cluster.executor())
    path = prom.write(report, tmp_path / "textfile" / "aictl.prom")
    families = _promtext.parse(path.read_text())
    status = families["aictl_check_status"]
    assert status.type == "gauge" and len(status.samples) == 8 * len(report.checks)
    key = (("check", "xid"), ("cluster", "lab-small"), ("node", "node03"))
    assert status.samples[key] == 2 and families["aictl_check_failing"].samples[key] == 1
    nodes = families["aictl_nodes"].samples
    assert nodes[(("cluster", "lab-small"), ("state", "fail"))] == 1
    results = families["aictl_check_results"].samples
    assert results[(("check", "xid"), ("cluster", "lab-small"), ("status", "ok"))] == 7
    assert not list(path.parent.glob(".aictl.prom.*"))  # written whole, renamed into place


def test_label_values_are_escaped() -> None:
    from dataclasses import replace

    report = preflight.PreflightReport("c", "", {}, {}, {}, False)
    odd = replace(report, cluster='lab "a"\\b\nc')
    fam = _promtext.parse(prom.render(odd))["aictl_nodes"]
    assert (("cluster", 'lab "a"\\b\nc'), ("state", "pass")) in fam.samples


@pytest.mark.parametrize(
    "bad",
    [
        'm{a="x"} 1\nm{a="x"} 2\n',  # a series twice
        "m 1\nn 1\nm 2\n",  # a family split in two
        'm{a="\\q"} 1\n',  # a bad escape
        "m 1\n# TYPE m gauge\n",  # TYPE after samples
        "9m 1\n",  # a bad name
        "m one\n",  # not a value
    ],
)
def test_the_test_parser_is_strict(bad: str) -> None:
    with pytest.raises(_promtext.FormatError):
        _promtext.parse(bad)


# ---- RoCE hosts ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"kind": "roce-pause", "rail": 1}, "18234 pause frames on priority 0 (rx)"),
        ({"kind": "qos-drift", "rail": 2}, "trust pcp (rendered dscp)"),
    ],
)
def test_roce_faults_fail_exactly_the_roce_check(
    fault: dict[str, object], words: str, tmp_path: Path
) -> None:
    loaded = load_preset("roce-h100-256")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    cluster = FakeCluster(topo, tmp_path)
    targets = _targets(topo)[:2]
    clean = preflight.run(topo, targets, cluster.executor())
    row = {r.check: r for r in clean.rows[targets[0].name]}
    assert row["roce"].status is Status.OK and "QoS as rendered" in row["roce"].message
    cluster.inject(host=targets[1].name, **fault)
    report = preflight.run(topo, targets, cluster.executor())
    failing = {n: [(r.check, r.message) for r in rs] for n, rs in report.failing.items()}
    assert list(failing) == [targets[1].name]
    ((check, message),) = failing[targets[1].name]
    assert check == "roce" and words in message


def test_roce_check_skips_infiniband_rails(tmp_path: Path) -> None:
    topo = _topo()
    report = preflight.run(topo, _targets(topo)[:1], FakeCluster(topo, tmp_path).executor())
    roce = next(r for r in report.rows["node01"] if r.check == "roce")
    assert roce.status is Status.SKIP
