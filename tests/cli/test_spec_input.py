"""Spec input that is not a spec: a FIFO, a device, a file over the size limit, Ctrl-C while
validating, non-finite numbers, a value with a newline on its way into a config. Each is a
one-line spec error (exit 3) or 130 for Ctrl-C: never a hang, a traceback or a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aictl import jsonio
from aictl.cli.app import app
from aictl.cli.fast import try_fast
from aictl.errors import ExitCode
from aictl.spec.loader import MAX_SPEC_BYTES, preset_text


def validate(path: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aictl", "spec", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    p = validate(fifo)
    assert p.returncode == ExitCode.SPEC
    assert (
        p.stderr
        == f"error[SPEC] {fifo}: not a regular file (a FIFO)\n  hint: pass the spec file itself\n"
    )


def test_dev_zero_is_refused() -> None:
    p = validate("/dev/zero")
    assert p.returncode == ExitCode.SPEC
    assert p.stderr.startswith("error[SPEC] /dev/zero: not a regular file (a device)")


def test_a_spec_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(preset_text("lab-small") + "#" * MAX_SPEC_BYTES)
    p = validate(big)
    assert p.returncode == ExitCode.SPEC
    assert "spec is larger than 1 MiB" in p.stderr and "Traceback" not in p.stderr


def test_ctrl_c_while_validating_is_130_and_one_line(tmp_path: Path) -> None:
    slow = tmp_path / "slow.yaml"
    # about 1 MiB of YAML takes seconds to compose: time to be interrupted
    pad = "".join(f"  k{i}: [1, 2, 3, 4, 5, 6, 7, 8]\n" for i in range(15_000))
    slow.write_text(preset_text("lab-small") + "x-pad:\n" + pad)
    assert slow.stat().st_size < MAX_SPEC_BYTES
    p = subprocess.Popen(
        [sys.executable, "-m", "aictl", "spec", "validate", str(slow)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert (p.returncode, err, out) == (ExitCode.INTERRUPTED, "interrupted\n", "")


def test_ctrl_c_in_the_fast_path_is_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(_: Path) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("aictl.cli.fast.validate_line", interrupted)
    assert try_fast(["spec", "validate", "x.yaml"]) == ExitCode.INTERRUPTED
    assert capsys.readouterr().err == "interrupted\n"


def test_nan_and_infinity_are_never_written_as_json() -> None:
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="not JSON compliant"):
            jsonio.dumps({"x": bad})
        with pytest.raises(ValueError, match="not JSON compliant"):
            jsonio.dumps_compact([bad])


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "    storage_nics:",
            '    nccl_env: {NCCL_DEBUG: "INFO\\nNCCL_IB_HCA==mlx5_9:1"}\n    storage_nics:',
        ),
        ("kubernetes:\n", 'kubernetes:\n  namespace: "default\\n  evil: key"\n'),
        ('hostname: "node{n:02d}"', 'hostname: "node{n:02d}\\n"'),
    ],
)
def test_a_newline_never_reaches_a_config(tmp_path: Path, old: str, new: str) -> None:
    spec = tmp_path / "spec.yaml"
    text = preset_text("lab-small")
    assert old in text
    spec.write_text(text.replace(old, new))
    out = tmp_path / "b"
    r = CliRunner().invoke(app, ["render", str(spec), "--validate", "--out", str(out)])
    assert r.exit_code == ExitCode.SPEC, r.output
    assert r.stderr.startswith("error[SPEC] ")
    assert not out.exists()
