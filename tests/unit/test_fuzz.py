"""Hypothesis fuzzing: mutated specs (every preset, and YAML a careless or hostile user
writes) never escape as anything but a clean one-line spec or topology error: no traceback,
nothing written on error, and no value that turns into a line of config."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.errors import AictlError
from aictl.spec.loader import parse_spec_text, preset_names, preset_text
from aictl.topology import build_topology

BASES: dict[str, dict[str, Any]] = {n: yaml.safe_load(preset_text(n)) for n in preset_names()}
# planning and writing 2,048 nodes takes a second: the CLI fuzzer keeps to the others
CLI_BASES = sorted(n for n in BASES if n != "h100-16k")
MARK = "INJECTED"

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "1:1",
            "3:1",
            "10.0.0.0/8",
            "auto",
            "0x7fff",
            "mlx5_0",
            "{n}",
            "{n:5d}",
            "-gpu{n}",
            "gpu{n}\n",
            "a" * 70,
            "x" * 10_000,
            f"x\n{MARK}: 1",
            f"INFO\n{MARK}=1",
            "-lan0",
            "\x00",
            "registry:5000/img:tag",
            "IMG:Latest",
        ]
    ),
)

# YAML a spec does not need: each must be a spec error, never a traceback or a hang
snippets = st.sampled_from(
    [
        "",
        ":",
        "  - x\n",
        "\t",
        "{",
        "&a *a",
        "<<: {a: 1}\n",
        "x-merge: {<<: {a: 1}}\n",
        "x-tag: !foo bar\n",
        "x-tag: !!python/object:os.system [ls]\n",
        "x-bin: !!binary aGk=\n",
        "x-loop: &loop [*loop]\n",
        "x-deep: " + "[" * 200 + "]" * 200 + "\n",
        "x-big: " + "9" * 5000 + "\n",
        "x-nan: .nan\n",
        "x-inf: -.inf\n",
        "x-bomb: &b0 [1,1,1,1,1,1,1,1]\n"
        + "".join(f"x-b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 8)}]\n" for i in range(1, 6)),
        "---\nname: second\n",
        "%YAML 1.1\n---\n",
        "? [complex, key]\n: 1\n",
        "x-date: 2024-13-45\n",
        "x-float: 1e999\n",
    ]
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


PATHS = {n: _paths(b)[1:] for n, b in BASES.items()}


@st.composite
def mutated(draw: st.DrawFn, names: list[str] | None = None) -> str:
    name = draw(st.sampled_from(names or sorted(BASES)))
    data = copy.deepcopy(BASES[name])
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS[name]))
        parent: Any = data
        try:
            for p in path[:-1]:
                parent = parent[p]
            action = draw(st.sampled_from(["set", "delete", "extra", "listify"]))
            if action == "set":
                parent[path[-1]] = draw(scalars)
            elif action == "delete":
                del parent[path[-1]]
            elif action == "extra" and isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(scalars)
            elif action == "listify":
                parent[path[-1]] = [parent[path[-1]]]
        except (KeyError, IndexError, TypeError):
            continue
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if draw(st.booleans()):
        lines = text.splitlines(keepends=True)
        at = draw(st.integers(0, len(lines)))
        if draw(st.booleans()):
            # anywhere in a line
            cut = draw(st.integers(0, len(text)))
            text = text[:cut] + draw(snippets) + text[cut:]
        else:
            text = "".join(lines[:at]) + draw(snippets) + "".join(lines[at:])
    return text


def _one_line_problems(exc: AictlError) -> None:
    assert exc.exit_code in (3, 4)
    for p in exc.problems:
        assert p.message and "\n" not in p.message and "\n" not in p.hint
        assert p.file == "fuzz.yaml"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_specs_fail_cleanly(text: str) -> None:
    try:
        loaded = parse_spec_text(text, "fuzz.yaml")
        build_topology(loaded.spec, spec_sha256=loaded.sha256)
    except AictlError as exc:
        _one_line_problems(exc)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(CLI_BASES))
def test_cli_never_prints_a_traceback_or_writes_on_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        spec = Path(d) / "spec.yaml"
        spec.write_text(text)
        out = Path(d) / "b"
        result = CliRunner().invoke(
            app, ["topo", "plan", str(spec), "--out", str(out), "--no-picture", "-o", "json"]
        )
        assert result.exit_code in (0, 3, 4), result.output
        assert "Traceback" not in result.output
        if result.exit_code:
            lines = result.stderr.splitlines()
            assert lines[0].startswith("error[")
            assert all(
                ln.startswith(("error[", "  hint: ")) or ln.endswith("nothing was written")
                for ln in lines
            ), result.stderr
            assert not out.exists()
            return
        # a spec that plans renders too, and nothing injected became a line of config
        result = CliRunner().invoke(app, ["render", str(spec), "--out", str(out)])
        assert result.exit_code in (0, 5), result.output
        for f in out.rglob("*"):
            if f.is_file():
                assert not any(
                    ln.lstrip(" -\"'").startswith(MARK) for ln in f.read_text().splitlines()
                ), f
