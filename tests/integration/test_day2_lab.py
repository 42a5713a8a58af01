"""Day-2 faults on the lab twin, end to end: every node fault is found by exactly its check
over SSH (the simulated dmesg, nvidia-smi, dcgmi, sysfs AER files and fabric manager log),
both link faults are set in ibsim's port counters through its console and found by
`topo verify --counters` (real ibqueryerrors against the running opensm) on the planned cable,
with the fix; `--prom` and `--watch` work on the same run; the report's matrix shows every
check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.lab import lab_clear, lab_inject
from tests.integration._labs import lab_small
from tests.unit import _promtext

pytestmark = pytest.mark.lab
C = "lab-small"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from lab_small(tmp_path_factory, "d2")


def _cli(build: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, [*args, "--preset", C, "--target", "lab", "--out", str(build)])
    assert res.exit_code in (0, 4, 10), res.output
    return res.exit_code, res.stdout


def _json(build: Path, *args: str) -> tuple[int, dict[str, Any]]:
    rc, out = _cli(build, *args, "-o", "json")
    return rc, json.loads(out)


def test_day2_faults_each_found_by_its_check_alone(build: Path, tmp_path: Path) -> None:
    try:
        lab_inject(C, "nvlink-errors", host="node01", gpu=6)
        lab_inject(C, "link-errors", host="node02", rail=1)
        lab_inject(C, "xid", host="node03", gpu=2)
        lab_inject(C, "gpu-missing", host="node04", gpu=7)
        lab_inject(C, "throttle", host="node05", gpu=1)
        lab_inject(C, "fabric-state", host="node06")
        lab_inject(C, "link-flap", host="node06", rail=2)
        lab_inject(C, "dcgm-fail", host="node07", gpu=3)
        lab_inject(C, "aer-errors", host="node08", gpu=4)
        prom = tmp_path / "textfile" / "aictl.prom"
        rc, data = _json(build, "check", "--dcgm", "2", "--prom", str(prom))
        assert rc == 10 and data["simulated"]
        failing = {n: [f["check"] for f in fs] for n, fs in data["failing"].items()}
        assert failing == {
            "node01": ["nvlink-errors"],
            "node03": ["xid"],
            "node04": ["gpu"],
            "node05": ["throttle"],
            "node06": ["fabricmanager"],
            "node07": ["dcgm"],
            "node08": ["aer"],
        }
        msgs = {n: fs[0]["message"] for n, fs in data["failing"].items()}
        assert "GPU2 Xid 119 (GSP RPC timeout) x1" in msgs["node03"]
        assert msgs["node04"] == "7 GPUs, planned 8"
        assert "memory on GPU 3" in msgs["node07"]
        assert data["matrix"]["node02"]["dcgm"] == "ok"  # DCGM ran everywhere
        fams = _promtext.parse(prom.read_text())
        key = (("check", "xid"), ("cluster", C), ("node", "node03"))
        assert fams["aictl_check_failing"].samples[key] == 1

        rc, data = _json(build, "topo", "verify", "--live", "node01", "--counters")
        assert rc == 4
        assert data["cabling"]["findings"] == []  # counters only: every cable is in place
        found = [(f["kind"], f["where"]) for f in data["counters"]["findings"]]
        assert found == [
            ("link-errors", "cable nl-00006 leaf-su01-r1 port 2 - node02 mlx5_1 (rack01)"),
            ("link-flap", "cable nl-00023 leaf-su02-r2 port 2 - node06 mlx5_2 (rack02)"),
        ]
        errors = data["counters"]["findings"][0]
        assert "SymbolErrorCounter 500" in errors["message"]
        assert errors["fix"].startswith("reseat or replace cable nl-00006 between leaf-su01-r1")

        # every check is a column of the report's node x check matrix
        from aictl.report.collect import collect
        from aictl.report.html import render_html

        topo, doc = collect(build)
        html = render_html(topo, doc, generated="-", version="-")
        for check in ("xid", "throttle", "aer", "nvlink-errors", "dcgm"):
            assert check in doc["preflight"]["checks"] and f">{check}<" in html, check
        assert any(f["kind"] == "link-flap" for f in doc["verify"]["counters"]["findings"])
    finally:
        lab_clear(C)
    rc, out = _cli(build, "check", "--watch", "1", "--rounds", "2")
    assert rc == 0, out
    assert "round 1: 8/8 nodes pass" in out and " -> fail" not in out
    rc, data = _json(build, "topo", "verify", "--live", "node01", "--counters")
    assert rc == 0 and data["counters"]["findings"] == []
