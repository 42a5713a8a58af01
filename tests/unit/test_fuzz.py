"""Hypothesis fuzzing: mutated specs never escape as anything but a clean AictlError."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.errors import AictlError
from aictl.spec.loader import parse_spec_text, preset_text
from aictl.topology import build_topology

BASE: dict[str, Any] = yaml.safe_load(preset_text("lab-small"))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100000),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["1:1", "3:1", "10.0.0.0/8", "auto", "0x7fff", "mlx5_0", "{n}", "a" * 70]),
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


PATHS = _paths(BASE)[1:]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    import copy

    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
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
    text = yaml.safe_dump(data, sort_keys=False)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = (
            text[:cut]
            + draw(st.sampled_from(["", ":", "  - x\n", "\t", "{", "&a *a"]))
            + text[cut:]
        )
    return text


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_specs_fail_cleanly(text: str) -> None:
    try:
        loaded = parse_spec_text(text, "fuzz.yaml")
        build_topology(loaded.spec, spec_sha256=loaded.sha256)
    except AictlError as exc:
        assert exc.exit_code in (3, 4)
        for p in exc.problems:
            assert p.message
            assert p.file == "fuzz.yaml"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_cli_never_prints_a_traceback(text: str) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        spec = Path(d) / "spec.yaml"
        spec.write_text(text)
        result = CliRunner().invoke(
            app, ["topo", "plan", str(spec), "--out", f"{d}/b", "--no-picture", "-o", "json"]
        )
        assert result.exit_code in (0, 3, 4), result.output
        assert "Traceback" not in result.output
        if result.exit_code:
            assert result.stderr.startswith("error[")
            assert not (Path(d) / "b").exists()
