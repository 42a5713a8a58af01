"""A non-editable install runs every command: build the wheel, install it into a fresh
target directory, and run aictl from outside the repository."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_wheel_ships_data_and_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("aictl-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "aictl/_data/templates/README.md" in names
    assert "aictl/_data/playbooks/README.md" in names
    assert any(n.startswith("aictl/spec/presets/a800-200.yaml") for n in names)
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = [sys.executable, "-c", "from aictl.cli.main import main; main()"]
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import aictl, aictl.paths as p; "
            "print(aictl.__file__); print(p.data_root('templates'))",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(target) in probe.stdout.splitlines()[0]
    assert probe.stdout.splitlines()[1].startswith(str(target))
    plan = subprocess.run(
        [*run, "topo", "plan", "--preset", "lab-small", "-o", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert plan.returncode == 0, plan.stderr
    assert (tmp_path / "build" / "lab-small" / "exports" / "ibsim.net").is_file()
    for args in (["spec", "presets"], ["spec", "schema"], ["--help"]):
        assert (
            subprocess.run([*run, *args], cwd=tmp_path, env=env, capture_output=True).returncode
            == 0
        ), args
