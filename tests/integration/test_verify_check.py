"""`aictl topo verify` and `aictl check` on the lab: clean passes, and each injected fault is
reported on the right node, rail or port and nothing else is."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.lab import lab_clear, lab_inject
from tests.integration._labs import lab_small

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from lab_small(tmp_path_factory, "vc")


def _cli(build: Path, *args: str) -> tuple[int, dict[str, Any]]:
    res = CliRunner().invoke(
        app, [*args, "--preset", "lab-small", "--target", "lab", "--out", str(build), "-o", "json"]
    )
    assert res.exit_code in (0, 4, 10), res.output
    return res.exit_code, json.loads(res.stdout)


def _verify(build: Path) -> tuple[int, dict[str, Any]]:
    return _cli(build, "topo", "verify", "--live", "node01", "--lldp")


def _failing(data: dict[str, Any]) -> dict[str, list[str]]:
    return {n: [f["check"] for f in fs] for n, fs in data["failing"].items()}


def test_clean_lab_verifies_and_checks_clean(build: Path) -> None:
    started = time.monotonic()
    rc, data = _cli(build, "check")
    took = time.monotonic() - started
    assert rc == 0 and data["ok"] and data["nodes"] == 8 and data["simulated"]
    # every check passes; the RoCE one is not for an InfiniBand node, DCGM runs with --dcgm
    not_here = {"roce", "dcgm"}
    assert all(
        v == ("skip" if c in not_here else "ok")
        for row in data["matrix"].values()
        for c, v in row.items()
    ), data["matrix"]
    assert took < 30  # eight nodes in parallel: seconds, not minutes
    assert (build / "check.json").exists()
    rc, data = _verify(build)
    assert rc == 0 and data["ok"] and data["simulated"]
    assert data["cabling"]["planned_cables"] == data["cabling"]["discovered_links"] == 64
    r = data["routing"]
    assert r["engine"] == "ftree" and r["shift_pairs"] == 32 and r["uplink_flows_max"] == 1
    assert data["lldp"]["members_checked"] == 16 and data["lldp"]["not_checked"] == []


def test_each_fault_is_named_where_it_is(build: Path) -> None:
    c = "lab-small"
    try:
        lab_inject(c, "swap-cables", host="node02", rail=1, with_host="node03")
        lab_inject(c, "port-down", host="node06", rail=2)
        lab_inject(c, "pcie-degraded", host="node02", gpu=5)
        lab_inject(c, "peermem-missing", host="node03")
        lab_inject(c, "fabricmanager-stopped", host="node04")
        lab_inject(c, "ecc-errors", host="node05", gpu=3)
        lab_inject(c, "sshd-down", host="node08")
        rc, data = _cli(build, "check")
        assert rc == 10
        assert _failing(data) == {
            "node02": ["pcie"],
            "node03": ["peermem"],
            "node04": ["fabricmanager"],
            "node05": ["ecc"],
            "node06": ["hca"],
            "node08": ["ssh"],
        }
        msgs = {n: fs[0]["message"] for n, fs in data["failing"].items()}
        assert "GPU5" in msgs["node02"] and "x8 of x16" in msgs["node02"]
        assert "GPU3" in msgs["node05"] and "rail 2 mlx5_2" in msgs["node06"]
        rc, data = _verify(build)
        assert rc == 4
        kinds = [(f["kind"], f["where"]) for f in data["cabling"]["findings"]]
        assert kinds == [
            ("swapped-cables", "leaf-su01-r1 port 2 / leaf-su01-r1 port 3"),
            ("missing-cable", "node06 mlx5_2"),
        ]
        swap = data["cabling"]["findings"][0]
        assert swap["fix"] == "swap the cables at leaf-su01-r1 port 2 and port 3"
        assert data["routing"]["findings"] == [] and data["routing"]["engine"] == "ftree"
        assert data["lldp"]["findings"] == [] and data["lldp"]["not_checked"] == ["node08"]
    finally:
        lab_clear(c)
    rc, _ = _verify(build)
    assert rc == 0
