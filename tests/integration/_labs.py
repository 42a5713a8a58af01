"""A lab-small twin for one test module: planned (the report reads the resolved spec), up,
and always taken down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aictl.lab import lab_down, lab_up
from aictl.spec.loader import load_preset
from aictl.topology import build_topology, write_plan
from tests.integration.test_lab import _require


def lab_small(tmp_path_factory: pytest.TempPathFactory, prefix: str) -> Iterator[Path]:
    """Yield the build directory of a running lab-small."""
    _require()
    loaded = load_preset("lab-small")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    out = tmp_path_factory.mktemp(prefix) / "build"
    write_plan(topo, out, picture=False)
    lab_down(topo.name, build=out)  # a lab left by an earlier, killed run
    lab_up(topo, build=out)
    try:
        yield out
    finally:
        lab_down(topo.name)
