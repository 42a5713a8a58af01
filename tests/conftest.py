"""Shared fixtures: golden files (`pytest --update-golden`), presets, and tool requirements."""

from __future__ import annotations

import difflib
import fcntl
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite expected files from what the code produces now",
    )


# One lab at a time on a machine: a session that selects any lab test holds this lock until
# it ends, so two test runs (two checkouts, or CI beside a developer) never overlap their labs.
LAB_LOCK = Path(os.environ.get("AICTL_LAB_LOCK", "/tmp/aictl-lab-tests.lock"))
_held: list[int] = []


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if _held or not any(item.get_closest_marker("lab") for item in items):
        return
    fd = os.open(LAB_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.stderr.write(f"waiting for {LAB_LOCK}: another test run has a lab up\n")
        fcntl.flock(fd, fcntl.LOCK_EX)
    _held.append(fd)


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def check_golden(path: Path, actual: str, update: bool) -> None:
    """Compare `actual` with the golden file at `path` (or rewrite it with --update-golden)."""
    if update or not path.exists():
        if not update:
            pytest.fail(f"golden file {path} is missing; run pytest --update-golden")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    expected = path.read_text()
    if expected != actual:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=str(path),
                tofile="actual",
                n=2,
            )
        )
        pytest.fail(
            f"{path.name} differs from golden (pytest --update-golden to accept):\n" + diff[:6000]
        )


def require_tools(*tools: str) -> None:
    """Skip when a tool is missing, unless AICTL_REQUIRE_TOOLS=1 (CI), where it fails."""
    missing = [t for t in tools if shutil.which(t) is None]
    if not missing:
        return
    msg = f"missing tools: {', '.join(missing)} (scripts/setup.sh installs them)"
    if os.environ.get("AICTL_REQUIRE_TOOLS") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


def shared_dir() -> Path | None:
    """../shared (samples, CRD schemas): AICTL_SHARED_DIR, else beside the repository."""
    env = os.environ.get("AICTL_SHARED_DIR")
    if env:
        return Path(env)
    beside = ROOT.parent / "shared"
    return beside if beside.is_dir() else None


def require_shared(sub: str) -> Path:
    """A folder of ../shared, or skip (the suite must pass where shared/ is absent)."""
    base = shared_dir()
    if base is None or not (base / sub).exists():
        pytest.skip(f"shared/{sub} not available (set AICTL_SHARED_DIR)")
    return base / sub
