"""Bad input: the exact user-facing text, the exit code, and nothing written.

Each tests/errors/<case>.yaml is run through `aictl topo plan`; <case>.err holds the expected
exit code and stderr. Regenerate with `pytest --update-golden` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aictl.cli.app import app
from tests.conftest import TESTS, check_golden

CASES = sorted(p.stem for p in (TESTS / "errors").glob("*.yaml"))


@pytest.mark.parametrize("case", CASES)
def test_error_case(
    case: str, tmp_path: Path, update_golden: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(TESTS / "errors")
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "build"
    result = CliRunner().invoke(app, ["topo", "plan", f"{case}.yaml", "--out", str(out)])
    assert result.exit_code in (3, 4), result.output
    assert "Traceback" not in result.output
    check_golden(
        TESTS / "errors" / f"{case}.err", f"exit {result.exit_code}\n{result.stderr}", update_golden
    )
    assert not out.exists(), "nothing may be written on bad input"


def test_every_case_names_file_line_and_field() -> None:
    for case in CASES:
        text = (TESTS / "errors" / f"{case}.err").read_text()
        first = text.splitlines()[1]
        label = "SPEC" if text.startswith("exit 3") else "TOPOLOGY"
        assert first.startswith(f"error[{label}] {case}.yaml:"), first
        errors = [ln for ln in text.splitlines() if ln.startswith("error[")]
        hints = [ln for ln in text.splitlines() if ln.startswith("  hint:")]
        assert len(hints) == len(errors), case


def test_fast_path_matches_typer(tmp_path: Path) -> None:
    """`aictl spec validate` skips typer; same text and exit code either way."""
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "200"}
    for case in ("unknown-key", "several-problems"):
        fast = subprocess.run(
            [sys.executable, "-m", "aictl", "spec", "validate", f"{case}.yaml"],
            cwd=TESTS / "errors",
            capture_output=True,
            text=True,
            env=env,
        )
        slow = subprocess.run(
            [
                sys.executable,
                "-m",
                "aictl",
                "spec",
                "validate",
                f"{case}.yaml",
                "--output",
                "table",
            ],
            cwd=TESTS / "errors",
            capture_output=True,
            text=True,
            env=env,
        )
        assert fast.returncode == slow.returncode == 3
        assert fast.stderr == slow.stderr
        assert "Traceback" not in fast.stderr
