"""The scheduler loop on the lab's real Slurm (slurmctld and a slurmd per node, Debian's
22.05): `aictl drain` and `undrain` through the real scontrol (`sinfo -R` shows aictl's
reason), the circuit breaker and a drain set by hand left alone; and the health check slurmd
runs on its own: a fault drains exactly its node within one interval, with the failing check
as the reason, and clearing the fault returns the node."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from aictl.cli.app import app
from aictl.errors import ExitCode
from aictl.lab import lab_clear, lab_inject
from aictl.lab.slurm import HEALTH_INTERVAL
from aictl.target import load_target
from tests.conftest import require_tools
from tests.integration._labs import lab_small

pytestmark = pytest.mark.lab

C = "lab-small"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    require_tools("munged", "slurmctld", "slurmd", "sinfo", "scontrol")
    yield from lab_small(tmp_path_factory, "sched")


def cli(build: Path, *args: str) -> Result:
    return CliRunner().invoke(app, [*args, "--preset", C, "--out", str(build)])


def _slurm(build: Path, *argv: str) -> str:
    env = {**os.environ, **load_target(build, C, "lab").slurm_env()}
    p = subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def drained(build: Path) -> dict[str, str]:
    """`sinfo -R`: node -> reason, as an operator reads it."""
    out = _slurm(build, "sinfo", "-R", "-N", "-h", "-o", "%N|%E")
    return dict(ln.split("|", 1) for ln in out.splitlines() if ln.strip())


def test_drain_and_return_through_the_real_slurmctld(build: Path) -> None:
    r = cli(build, "drain", "node05", "--reason", "Xid 79 on GPU 3", "--target", "lab")
    assert r.exit_code == 0, r.output
    assert drained(build) == {"node05": "aictl: Xid 79 on GPU 3"}
    # a second node is over the breaker of an 8-node fleet (1 node): refused, nothing sent
    r = cli(build, "drain", "node06", "--reason", "Xid 48", "--target", "lab")
    assert r.exit_code == ExitCode.SCHEDULER and "circuit breaker" in r.output
    assert list(drained(build)) == ["node05"]
    # a drain an operator set is not aictl's to return
    _slurm(build, "scontrol", "update", "NodeName=node07", "State=DRAIN", "Reason=PSU swap")
    r = cli(build, "undrain", "node07", "--target", "lab", "--no-check")
    assert r.exit_code == ExitCode.SCHEDULER and "not drained by aictl" in r.output
    assert drained(build)["node07"] == "PSU swap"
    _slurm(build, "scontrol", "update", "NodeName=node07", "State=RESUME")
    # node05 passes aictl check again (over SSH), so it comes back
    r = cli(build, "undrain", "node05", "--target", "lab")
    assert r.exit_code == 0, r.output
    assert drained(build) == {}
    log = [json.loads(ln) for ln in (build / "actions.jsonl").read_text().splitlines()]
    assert [(a["action"], a["node"]) for a in log] == [
        ("drain", "node05"),
        ("refused", "node06"),
        ("refused", "node07"),
        ("undrain", "node05"),
    ]
    # the report shows them
    r = CliRunner().invoke(app, ["report", str(build), "--format", "md"])
    assert r.exit_code == 0, r.output
    md = next(build.rglob("report.md")).read_text()
    assert "## Scheduler actions" in md and "| drain | node05 | slurm | aictl: Xid 79" in md


def _wait(build: Path, want: dict[str, str] | None, prefix: str, limit: float) -> dict[str, str]:
    """Poll sinfo -R until node03's reason starts with `prefix` (or nothing is drained)."""
    end = time.monotonic() + limit
    seen: dict[str, str] = {}
    while time.monotonic() < end:
        seen = drained(build)
        if (want is None and not seen) or (
            want is not None and set(seen) == set(want) and seen["node03"].startswith(prefix)
        ):
            return seen
        time.sleep(2)
    return seen


def test_slurmd_health_check_drains_a_faulty_node_and_returns_it(build: Path) -> None:
    # provisioning installs the health check (profile, wrapper, aictl) on the nodes
    r = CliRunner().invoke(
        app,
        ["provision", "--preset", C, "--target", "lab", "--out", str(build), "--tags", "health"],
    )
    assert r.exit_code == 0, r.output
    assert drained(build) == {}
    lab_inject(C, "fabricmanager-stopped", host="node03")
    # within one interval (and the run itself)
    seen = _wait(build, {"node03": ""}, "aictl: fabricmanager: ", HEALTH_INTERVAL + 30)
    assert list(seen) == ["node03"], seen
    assert seen["node03"].startswith("aictl: fabricmanager: "), seen
    lab_clear(C)
    seen = _wait(build, None, "", HEALTH_INTERVAL + 30)
    assert seen == {}, seen
