"""`aictl accept` on the lab: a clean lab passes; injected faults are named (that host, that
rail, nothing else); a node dying mid-run is recorded and the run completes; --resume after
Ctrl-C finishes only what was left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.lab import lab_clear, lab_inject
from aictl.report import write_reports
from tests.integration._chromium import not_blank, page_requests, screenshot
from tests.integration._labs import lab_small

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from lab_small(tmp_path_factory, "acc")


def _run(build: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    args = ["accept", "run", "--preset", "lab-small", "--target", "lab", "--out", str(build)]
    args += ["-o", "json", *extra]
    res = CliRunner().invoke(app, args)
    assert res.exit_code in (0, 8), res.output
    return res.exit_code, json.loads(res.stdout)


def _lines(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]


def test_a_clean_lab_passes(build: Path) -> None:
    rc, d = _run(build)
    assert rc == 0 and d["verdict"] == "pass" and d["suspects"] == [] and d["simulated"]
    assert d["units"]["planned"] == d["units"]["ran"] == 117
    assert all(c["status"] == "ok" for c in d["criteria"])
    crit = {c["name"]: c for c in d["criteria"]}
    assert crit["gdr_per_rail"]["measured"]["min"] >= 180
    assert (
        crit["cluster_all_reduce"]["measured"]["busbw"]
        >= crit["cluster_all_reduce"]["expected"]["min_busbw"]
    )
    run_dir = Path(d["run_dir"])
    plan = json.loads((run_dir / "plan.json").read_text())
    assert plan["gpu_for_rail"]["node01"] == [0, 2, 4, 6]  # from nvidia-smi topo -m
    assert len(_lines(run_dir)) == 117 and len(list((run_dir / "raw").iterdir())) == 117
    again = CliRunner().invoke(
        app, ["accept", "localize", "--preset", "lab-small", "--out", str(build), "-o", "json"]
    )
    assert json.loads(again.stdout)["verdict"] == "pass"


def test_faults_are_named_and_nothing_else(build: Path) -> None:
    c = "lab-small"
    try:
        lab_inject(c, "slow-nic", host="node05", rail=2, factor=0.5)
        lab_inject(c, "peermem-missing", host="node03")
        lab_inject(c, "swap-cables", host="node07", rail=0)  # its rail 0 and 1 cables swapped
        rc, d = _run(build)
    finally:
        lab_clear(c)
    assert rc == 8 and d["verdict"] == "fail"
    got = {(s["node"], s.get("rail")): s["reason"] for s in d["suspects"]}
    assert set(got) == {("node03", None), ("node05", 2), ("node07", None)}
    assert "GPUDirect RDMA unavailable on node03" in got[("node03", None)]
    assert "96." in got[("node05", 2)] and "< 180 Gb/s" in got[("node05", 2)]
    assert "2-node all_reduce" in got[("node07", None)] and "topo verify" in got[("node07", None)]
    assert any("node07" in p and "nccl" in p for p in d["low_pairs"])  # the affected pairs
    # the report names them too, and renders in a browser with no network
    rep = write_reports(Path(d["run_dir"]), ["html", "md", "junit"], None)
    html = Path(rep["out"]) / "report.html"
    text = html.read_text()
    assert "node05 rail 2" in text and "GPUDirect RDMA unavailable on node03" in text
    assert "Simulated." in text
    log = screenshot(html, Path(rep["out"]) / "report.png")
    assert (Path(rep["out"]) / "report.png").exists(), log[-2000:]
    assert not_blank(Path(rep["out"]) / "report.png")
    assert "CONSOLE" not in log, log[-2000:]  # no console message, let alone an error
    assert page_requests(Path(rep["out"]) / "report.netlog.json") == []
    junit = ET.parse(Path(rep["out"]) / "junit.xml").getroot()
    failed = [c.get("name") or "" for c in junit.iter("testcase") if c.find("failure") is not None]
    assert any(n.startswith("node/node05/gdr/r2") for n in failed)


def _wait_lines(run_dir: Path, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        f = run_dir / "results.jsonl"
        if f.exists() and len(f.read_text().splitlines()) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"{run_dir}: fewer than {n} results after {timeout} s")


def test_interrupt_resume_and_a_node_dying(build: Path) -> None:
    aictl = [sys.executable, "-m", "aictl"]
    base = [
        "accept",
        "run",
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
    ]
    runs = build / "runs"
    before = set(runs.iterdir()) if runs.exists() else set()
    p = subprocess.Popen([*aictl, *base], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (
        set(runs.iterdir()) - before if runs.exists() else set()
    ):
        time.sleep(0.2)
    (run_dir,) = set(runs.iterdir()) - before
    _wait_lines(run_dir, 8)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130 and f"--resume {run_dir.name}" in err
    first = [r["id"] for r in _lines(run_dir)]
    planned = len(json.loads((run_dir / "plan.json").read_text())["units"])
    assert 8 <= len(first) < planned
    # resume; node08 dies half way through what is left
    q = subprocess.Popen(
        [*aictl, *base, "--resume", run_dir.name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_lines(run_dir, len(first) + 6)
        lab_inject("lab-small", "sshd-down", host="node08")
        out, err = q.communicate(timeout=300)
    finally:
        lab_clear("lab-small")
    assert q.returncode == 8, err[-2000:]
    d = json.loads(out)
    ids = [r["id"] for r in _lines(run_dir)]
    assert ids[: len(first)] == first and len(ids) == len(set(ids))  # nothing ran twice
    assert d["verdict"] == "fail" and d["units"]["ran"] == d["units"]["planned"]
    assert {s["node"] for s in d["suspects"]} == {"node08"}
    assert "unreachable" in d["suspects"][0]["reason"]
    cluster = {r["id"]: r for r in _lines(run_dir) if r["stage"] == "cluster"}
    assert all(r.get("excluded") == ["node08"] and r["status"] == "ok" for r in cluster.values())
    assert os.path.exists(run_dir / "summary.json")
