"""The spec and topo commands through typer's CliRunner: exit codes, JSON keys, files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.errors import ExitCode
from aictl.spec.loader import preset_names, preset_text

runner = CliRunner()


def test_help_lists_groups() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "spec" in result.output and "topo" in result.output


def test_presets_json() -> None:
    result = runner.invoke(app, ["spec", "presets", "-o", "json"])
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert set(rows) == {
        "a800-200",
        "dgx-h100-127",
        "dgx-a100-140",
        "roce-h100-256",
        "h100-16k",
        "lab-small",
        "mixed-lab",
        "mixed-center",
        "mi300x-128",
        "mixed-vendor-lab",
    }
    assert rows["a800-200"]["gpus"] == 1600 and rows["h100-16k"]["gpus"] == 16384
    assert rows["mixed-lab"]["gpus"] == 4 * 8 + 4 * 4  # each node counts its own profile
    assert rows["roce-h100-256"]["transport"] == "roce"
    # the mixed center: 160 A800 (8 GPUs) and 32 Ascend 910B (8 NPUs) on two fabrics
    assert rows["mixed-center"]["transport"] == "infiniband+roce"
    assert rows["mixed-center"]["gpus"] == 192 * 8 and rows["mixed-center"]["rails"] == 4 + 8
    # the mixed-vendor lab: 2 A800, 2 MI300X and 2 Ascend 910B nodes of 8 accelerators each
    assert rows["mixed-vendor-lab"]["gpus"] == 6 * 8


def test_init_writes_the_commented_preset_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "cluster.yaml"
    assert runner.invoke(app, ["spec", "init", "--out", str(out)]).exit_code == 0
    assert out.read_text() == preset_text("a800-200")
    assert out.read_text().startswith("# a800-200")
    again = runner.invoke(app, ["spec", "init", "--out", str(out)])
    assert again.exit_code == ExitCode.USAGE
    assert "--force" in again.stderr
    ok = runner.invoke(app, ["spec", "validate", str(out), "-o", "json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["nodes"] == 200


def test_unknown_preset_suggests() -> None:
    result = runner.invoke(app, ["topo", "plan", "--preset", "a800-20"])
    assert result.exit_code == ExitCode.SPEC
    assert "did you mean 'a800-200'" in result.stderr


def test_spec_or_preset_required() -> None:
    result = runner.invoke(app, ["topo", "plan"])
    assert result.exit_code == ExitCode.USAGE


def test_schema_is_a_json_schema_that_presets_satisfy() -> None:
    result = runner.invoke(app, ["spec", "schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in preset_names():
        errors = list(validator.iter_errors(yaml.safe_load(preset_text(name))))
        assert not errors, (name, errors[0].message)

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for key, prop in (node.get("properties") or {}).items():
                assert "description" in prop, f"{path}.{key} has no description"
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for v in node:
                walk(v, path)

    walk(schema, "")


def test_size_json_keys() -> None:
    result = runner.invoke(
        app,
        [
            "topo",
            "size",
            "--nodes",
            "127",
            "--nodes-per-su",
            "32",
            "--rails",
            "8",
            "--link-gbps",
            "400",
            "--switch-ports",
            "64",
            "--reserved-slots",
            "1",
            "--reserved-ports",
            "4",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["tiers"] == 2 and data["nodes"] == 127
    assert data["switches"]["leaf"] == 32 and data["switches"]["spine"] == 16
    assert data["switches"]["core"] == 0
    assert data["cables"] == {"node_leaf": 1020, "leaf_spine": 1024, "spine_core": 0}


def test_size_table_and_bad_ratio() -> None:
    seed = "topo size --nodes 201 --nodes-per-su 20 --rails 4 --link-gbps 200 --switch-ports 40"
    ok = runner.invoke(app, seed.split())
    assert ok.exit_code == 0 and "3 tiers" in ok.output
    small = "topo size --nodes 8 --nodes-per-su 4 --rails 4 --link-gbps 200 --switch-ports 8"
    bad = runner.invoke(app, [*small.split(), "--oversubscription", "x:1"])
    assert bad.exit_code == ExitCode.USAGE
    two = runner.invoke(app, [*seed.split(), "--tiers", "2"])
    assert two.exit_code == ExitCode.TOPOLOGY and "200 nodes" in two.stderr


def test_plan_json_and_files(tmp_path: Path) -> None:
    out = tmp_path / "b"
    result = runner.invoke(
        app, ["topo", "plan", "--preset", "a800-200", "--out", str(out), "-o", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["tiers"] == 2 and data["nodes"] == 200
    assert data["switches"] == {"leaf": 40, "spine": 20, "core": 0, "total": 60}
    assert data["cables"] == {"node_leaf": 800, "leaf_spine": 800, "spine_core": 0}
    for rel in (
        "topology.json",
        "spec.resolved.json",
        "exports/cabling.csv",
        "exports/bom.csv",
        "exports/topology.graphml",
        "exports/topology.svg",
        "exports/ibsim.net",
        "exports/slurm-topology.conf",
        "exports/slurm-topology-block.conf",
        "exports/slurm-topology.yaml",
        "exports/volcano-hypernodes.yaml",
        "exports/kueue-topology.yaml",
        "exports/kai-topology.yaml",
        "exports/node-labels.yaml",
        "exports/ftree-roots.guids",
        "exports/ftree-cns.guids",
    ):
        assert (out / rel).is_file(), rel
        assert rel in data["files"]
    topo = json.loads((out / "topology.json").read_text())
    assert topo["schema_version"] == 1 and len(topo["cables"]) == 800 + 800 + 400 + 80 + 20
    resolved = json.loads((out / "spec.resolved.json").read_text())
    assert resolved["spec_sha256"] == topo["spec_sha256"]


def test_plan_table_output(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["topo", "plan", "--preset", "lab-small", "--out", str(tmp_path / "b")],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0
    for word in ("lab-small", "leaf", "spine", "same rail, same leaf", "one failure", "wrote"):
        assert word in result.output


def test_plan_from_a_spec_file(tmp_path: Path) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text(preset_text("roce-h100-256"))
    result = runner.invoke(
        app, ["topo", "plan", str(spec), "--out", str(tmp_path / "b"), "-o", "json"]
    )
    assert result.exit_code == 0
    assert not (tmp_path / "b" / "exports" / "ibsim.net").exists()  # RoCE: no IB net file


def test_draw_levels(tmp_path: Path) -> None:
    for level in ("su", "rail", "full"):
        out = tmp_path / f"{level}.svg"
        result = runner.invoke(
            app, ["topo", "draw", "--preset", "lab-small", "--level", level, "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert out.read_text().startswith("<svg")


def test_draw_png(tmp_path: Path) -> None:
    if shutil.which("rsvg-convert") is None:
        pytest.skip("rsvg-convert (librsvg2-bin) not installed")
    out = tmp_path / "t.png"
    result = runner.invoke(
        app, ["topo", "draw", "--preset", "a800-200", "--format", "png", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["spec", "validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == ExitCode.SPEC
    assert "no such file" in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--debug", "spec", "validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code != 0
    assert result.exception is not None


def test_lab_needs_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    result = runner.invoke(app, ["lab", "up", "--preset", "lab-small", "--out", str(tmp_path)])
    assert result.exit_code == ExitCode.INTERNAL
    assert result.stderr.startswith("error[LAB] the lab needs root")
    assert "hint:" in result.stderr
    assert not (tmp_path / "lab").exists()


def test_lab_commands_without_a_lab(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import aictl.lab

    monkeypatch.setattr(aictl.lab, "RUN_ROOT", tmp_path / "run")
    result = runner.invoke(app, ["lab", "status"])
    assert result.exit_code == ExitCode.USAGE and "no lab is up" in result.stderr
    result = runner.invoke(
        app, ["lab", "inject", "slow-nic", "--host", "node01", "--cluster", "nope"]
    )
    assert result.exit_code == ExitCode.INTERNAL and "no lab 'nope' is up" in result.stderr
