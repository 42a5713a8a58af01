"""requirements.lock: every package pinned with its hashes, covering pyproject.toml's ranges,
and the .venv that scripts/setup.sh made from it holds exactly that set."""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

LOCK = ROOT / "requirements.lock"
# what a venv brings along itself, and aictl (installed from the work tree, not the lock)
_NOT_LOCKED = {"pip", "setuptools", "aictl"}


def _pins() -> dict[str, str]:
    text = LOCK.read_text()
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", text):
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", block)
        if m is None:
            continue
        assert "--hash=sha256:" in block, f"{m.group(1)} has no hash"
        name = str(canonicalize_name(m.group(1)))
        assert name not in pins, f"{name} pinned twice"
        pins[name] = m.group(2)
    return pins


def test_every_pin_is_exact_and_hashed() -> None:
    pins = _pins()
    assert len(pins) > 20
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", v) for v in pins.values())


def test_the_lock_satisfies_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    for spec in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock: bash scripts/lock.sh"
        assert req.specifier.contains(pins[name], prereleases=True), (spec, pins[name])


def _in_setup_venv() -> Path:
    venv = ROOT / ".venv"
    if Path(sys.prefix).resolve() != venv.resolve():
        pytest.skip("not running in the .venv that scripts/setup.sh made")
    return venv


def test_the_venv_was_made_from_this_lock() -> None:
    venv = _in_setup_venv()
    want = hashlib.sha256(LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = venv / ".aictl-installed"
    assert stamp.exists() and stamp.read_text().strip() == want, "run bash scripts/setup.sh"


def test_the_venv_holds_exactly_the_lock() -> None:
    _in_setup_venv()
    installed = {
        str(canonicalize_name(d.metadata["Name"])): d.version
        for d in metadata.distributions()
        if canonicalize_name(d.metadata["Name"]) not in _NOT_LOCKED
    }
    assert installed == _pins()
