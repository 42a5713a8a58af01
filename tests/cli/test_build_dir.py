"""The build directory as a hostile or careless user leaves it: symlinks, two commands at
once, a SIGKILL mid-render, a full disk, a read-only file system, a name too long, a stale
manifest. For plan, render and inventory (and check.json, verify.json, reports, spec init):
links are refused and their targets untouched, the second command waits or fails naming the
holder, `render --check` never passes a tree the manifest does not vouch for, and an I/O
error is one line with the stage's exit code and the previous tree left as it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from aictl.cli.app import app
from aictl.errors import ExitCode
from aictl.jsonio import sha256_bytes
from aictl.render import render_all, write_rendered
from aictl.spec.loader import parse_spec_text, preset_text
from aictl.topology import build_topology

BASE = preset_text("lab-small")
# B renames every node: every host file and inventory host changes
VARIANT = BASE.replace("node{n:02d}", "host{n:02d}").replace("node0", "host0")


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def specs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(BASE)
    b.write_text(VARIANT)
    return a, b


def one_error(result: Result, label: str = "WRITE") -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"error[{label}] ") and lines[1].startswith("  hint: ")
    assert "Traceback" not in result.output
    return lines[0]


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


# --- symlinks -----------------------------------------------------------------------------


def link_dir(path: Path, tmp_path: Path) -> Path:
    """Replace directory `path` with a link to someone else's directory (returned), which
    holds one precious file."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep\n")
    subprocess.run(["rm", "-r", str(path)], check=True)
    path.symlink_to(victim)
    return victim


def their_file(tmp_path: Path) -> Path:
    target = tmp_path / "target"
    target.write_text("theirs\n")
    return target


def test_render_refuses_a_symlinked_hosts_dir_and_leaves_its_target(
    tmp_path: Path, specs: tuple[Path, Path]
) -> None:
    out = tmp_path / "b"
    assert cli("render", str(specs[0]), "--out", str(out)).exit_code == 0
    victim = link_dir(out / "artifacts" / "hosts", tmp_path)
    r = cli("render", str(specs[0]), "--out", str(out))
    assert r.exit_code == ExitCode.RENDER
    assert "artifacts/hosts is a symlink" in one_error(r)
    assert sorted(p.name for p in victim.iterdir()) == ["precious"]
    assert cli("render", str(specs[0]), "--out", str(out), "--check").exit_code == 5


def test_a_symlinked_artifact_is_drift_and_never_written_through(
    tmp_path: Path, specs: tuple[Path, Path]
) -> None:
    out = tmp_path / "b"
    assert cli("render", str(specs[0]), "--out", str(out)).exit_code == 0
    conf = out / "artifacts/profiles/hgx-a800/etc/nccl.conf"
    theirs = tmp_path / "theirs.conf"
    theirs.write_bytes(conf.read_bytes())  # same bytes: a follower would see no drift
    conf.unlink()
    conf.symlink_to(theirs)
    check = cli("render", str(specs[0]), "--out", str(out), "--check")
    assert check.exit_code == ExitCode.RENDER
    assert "changed: profiles/hgx-a800/etc/nccl.conf" in check.stderr
    theirs.write_text("theirs\n")
    r = cli("render", str(specs[1]), "--out", str(out))
    assert r.exit_code == ExitCode.RENDER and "nccl.conf is a symlink" in one_error(r)
    assert theirs.read_text() == "theirs\n"


def test_plan_refuses_symlinks_and_planted_temporary_names(
    tmp_path: Path, specs: tuple[Path, Path]
) -> None:
    out = tmp_path / "b"
    out.mkdir()
    target = their_file(tmp_path)
    # the fixed temporary names of the old writer
    for name in (".topology.json.tmp", ".spec.resolved.json.tmp"):
        (out / name).symlink_to(target)
    assert cli("topo", "plan", str(specs[0]), "--out", str(out), "--no-picture").exit_code == 0
    assert target.read_text() == "theirs\n"
    assert not (out / "topology.json").is_symlink()
    victim = link_dir(out / "exports", tmp_path)
    r = cli("topo", "plan", str(specs[1]), "--out", str(out), "--no-picture")
    assert r.exit_code == ExitCode.TOPOLOGY and "exports is a symlink" in one_error(r)
    assert sorted(p.name for p in victim.iterdir()) == ["precious"]
    assert b'"node01"' in (out / "topology.json").read_bytes()  # the old plan, whole


def test_inventory_refuses_a_symlinked_host_vars(tmp_path: Path, specs: tuple[Path, Path]) -> None:
    out = tmp_path / "inv"
    assert cli("inventory", str(specs[0]), "--out", str(out)).exit_code == 0
    victim = link_dir(out / "host_vars", tmp_path)
    r = cli("inventory", str(specs[1]), "--out", str(out))
    assert r.exit_code == ExitCode.RENDER and "host_vars is a symlink" in one_error(r)
    assert sorted(p.name for p in victim.iterdir()) == ["precious"]


def test_verify_json_report_and_spec_init_refuse_links(tmp_path: Path) -> None:
    from aictl.fabric.diff import planned_links
    from aictl.spec.loader import load_preset
    from tests.unit.test_fabric import _ibnet

    loaded = load_preset("lab-small")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    good = tmp_path / "good.txt"
    good.write_text(_ibnet(topo, dict(planned_links(topo)[0])))
    out = tmp_path / "b"
    out.mkdir()
    target = their_file(tmp_path)
    (out / "verify.json").symlink_to(target)
    r = cli("topo", "verify", "--preset", "lab-small", "--out", str(out), "--discovered", str(good))
    assert r.exit_code == ExitCode.TOPOLOGY and "verify.json is a symlink" in one_error(r)
    (out / "verify.json").unlink()
    assert cli("topo", "plan", "--preset", "lab-small", "--out", str(out)).exit_code == 0
    (out / "report").mkdir()
    (out / "report" / "report.md").symlink_to(target)
    r = cli("report", str(out), "--format", "md")
    assert r.exit_code == ExitCode.USAGE and "report.md is a symlink" in one_error(r)
    spec = tmp_path / "cluster.yaml"
    spec.symlink_to(target)
    r = cli("spec", "init", "--out", str(spec), "--force")
    assert r.exit_code == ExitCode.USAGE and "cluster.yaml is a symlink" in one_error(r)
    assert target.read_text() == "theirs\n"


# --- the manifest vouches for the tree ----------------------------------------------------


def test_check_catches_a_stale_missing_or_edited_manifest(
    tmp_path: Path, specs: tuple[Path, Path]
) -> None:
    out = tmp_path / "b"
    assert cli("render", str(specs[0]), "--out", str(out)).exit_code == 0
    check = ("render", str(specs[0]), "--out", str(out), "--check")
    assert cli(*check).exit_code == 0
    manifest = out / "manifest.json"
    good = manifest.read_text()
    doc = json.loads(good)
    doc["spec_sha256"] = "0" * 64
    manifest.write_text(json.dumps(doc))
    r = cli(*check)
    assert r.exit_code == ExitCode.RENDER and "written for another spec" in r.stderr
    doc = json.loads(good)
    doc["files"]["ib/opensm.conf"] = "0" * 64
    manifest.write_text(json.dumps(doc))
    assert "manifest.json entry differs: ib/opensm.conf" in cli(*check).stderr
    manifest.unlink()
    assert "manifest.json is missing" in cli(*check).stderr
    assert cli("render", str(specs[0]), "--out", str(out)).exit_code == 0
    assert cli(*check).exit_code == 0


def _kill_at(out: Path, spec: Path, when: str) -> int:
    """Render `spec` into `out` in a forked child that SIGKILLs itself at a rename
    (`first`, `tenth`, or the one that lands `manifest`); returns the signal."""
    loaded = parse_spec_text(spec.read_text(), str(spec))
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    result = render_all(topo)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child dies here
        count = [0]
        real_rename, real_replace = os.rename, os.replace

        def dying(real: object) -> object:
            def rename(src: object, dst: object, **kw: object) -> None:
                count[0] += 1
                last = str(dst).endswith("manifest.json")
                if (when, count[0]) in (("first", 1), ("tenth", 10)) or (
                    when == "manifest" and last
                ):
                    os.kill(os.getpid(), signal.SIGKILL)
                real(src, dst, **kw)  # type: ignore[operator]

            return rename

        os.rename = dying(real_rename)  # type: ignore[assignment]
        os.replace = dying(real_replace)  # type: ignore[assignment]
        write_rendered(topo, result, out)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0


@pytest.mark.parametrize("when", ["first", "tenth", "manifest"])
def test_sigkill_mid_render_is_drift_never_a_clean_check(
    tmp_path: Path, specs: tuple[Path, Path], when: str
) -> None:
    a, b = specs
    out = tmp_path / "b"
    assert cli("render", str(a), "--out", str(out)).exit_code == 0
    assert _kill_at(out, b, when) == signal.SIGKILL
    for spec in (a, b):
        r = cli("render", str(spec), "--out", str(out), "--check")
        assert r.exit_code == ExitCode.RENDER, (spec, r.stderr)
    assert "interrupted" in r.stderr
    assert cli("render", str(b), "--out", str(out)).exit_code == 0
    assert cli("render", str(b), "--out", str(out), "--check").exit_code == 0
    assert not [p for p in out.rglob(".aictl-*") if p.name != ".aictl.lock"]


def _aictl(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "aictl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_at_any_moment_leaves_no_tree_check_vouches_for_wrongly(
    tmp_path: Path, specs: tuple[Path, Path]
) -> None:
    a, b = specs
    out = tmp_path / "b"
    loaded = parse_spec_text(b.read_text(), str(b))
    want_b = render_all(build_topology(loaded.spec, spec_sha256=loaded.sha256))
    for delay in (0.5, 1.0):
        assert cli("render", str(a), "--out", str(out)).exit_code == 0
        p = _aictl("render", str(b), "--out", str(out))
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.communicate()
        check = cli("render", str(b), "--out", str(out), "--check")
        if check.exit_code == 0:
            # a clean check means the whole tree and the manifest are B's
            manifest = json.loads((out / "manifest.json").read_text())
            assert manifest["spec_sha256"] == loaded.sha256
            on_disk = tree(out / "artifacts")
            assert {k: sha256_bytes(v) for k, v in on_disk.items()} == {
                x.path: x.sha256 for x in want_b.artifacts
            }
        else:
            assert check.exit_code == ExitCode.RENDER


# --- one command at a time ----------------------------------------------------------------


def test_a_second_render_waits_for_the_lock_then_runs(
    tmp_path: Path, specs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "b"
    out.mkdir()
    from aictl import buildlock

    monkeypatch.setenv("AICTL_LOCK_TIMEOUT", "60")
    with buildlock.hold(out, stage=ExitCode.RENDER):
        p = _aictl("render", str(specs[0]), "--out", str(out))
        assert p.stderr is not None
        line = p.stderr.readline()
        assert line.startswith(f"waiting for {out}: locked by pid {os.getpid()} (aictl")
        time.sleep(0.3)
        assert not (out / "artifacts").exists()
    _, rest = p.communicate(timeout=60)
    assert p.returncode == 0, rest
    assert cli("render", str(specs[0]), "--out", str(out), "--check").exit_code == 0


def test_a_render_that_cannot_get_the_lock_fails_naming_the_holder(
    tmp_path: Path, specs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aictl import buildlock

    out = tmp_path / "b"
    monkeypatch.setenv("AICTL_LOCK_TIMEOUT", "0.5")
    with buildlock.hold(out, stage=ExitCode.RENDER):
        for args, code in (
            (("render", str(specs[0])), ExitCode.RENDER),
            (("topo", "plan", str(specs[0])), ExitCode.TOPOLOGY),
        ):
            p = _aictl(*args, "--out", str(out))
            _, err = p.communicate(timeout=60)
            assert p.returncode == code, err
            assert f"error[LOCKED] {out} is locked by pid {os.getpid()}" in err
            assert "Traceback" not in err
    assert sorted(x.name for x in out.iterdir()) == [".aictl.lock"]


def test_two_renders_at_once_never_mix_their_trees(
    tmp_path: Path, specs: tuple[Path, Path]
) -> None:
    a, b = specs
    out = tmp_path / "b"
    for _ in range(2):
        procs = [_aictl("render", str(s), "--out", str(out)) for s in (a, b)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        clean = [
            s for s in (a, b) if cli("render", str(s), "--out", str(out), "--check").exit_code == 0
        ]
        assert len(clean) == 1


# --- I/O errors ---------------------------------------------------------------------------


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs at `path` (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        if os.environ.get("AICTL_REQUIRE_TOOLS") == "1":
            pytest.fail("the full-disk tests mount a tmpfs: run them as root")
        pytest.skip("mounting a tmpfs needs root")
    path.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "aictl-test-disk", str(path)],
        check=True,
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(disk: Path) -> None:
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


STAGES = {
    "plan": (("topo", "plan"), ExitCode.TOPOLOGY),
    "render": (("render",), ExitCode.RENDER),
    "inventory": (("inventory",), ExitCode.RENDER),
}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_full_disk_is_a_stage_error_and_the_old_tree_stays(
    tmp_path: Path, specs: tuple[Path, Path], stage: str
) -> None:
    words, code = STAGES[stage]
    a, b = specs
    with tmpfs(tmp_path / "disk", "2m") as disk:
        out = disk / "out"
        assert cli(*words, str(a), "--out", str(out)).exit_code == 0
        before = tree(out)
        _fill(disk)
        r = cli(*words, str(b), "--out", str(out))
        assert r.exit_code == code
        line = one_error(r)
        assert ": cannot write: No space left on device" in line and str(out) in line
        assert "the file system is full" in r.stderr
        assert tree(out) == before
        assert not list(out.rglob("*.tmp"))


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_full_disk_on_the_first_run_leaves_nothing_half_written(
    tmp_path: Path, specs: tuple[Path, Path], stage: str
) -> None:
    words, code = STAGES[stage]
    with tmpfs(tmp_path / "disk", "8k") as disk:
        out = disk / "out"
        r = cli(*words, str(specs[0]), "--out", str(out))
        assert r.exit_code == code
        assert "No space left on device" in one_error(r)
        assert sorted(p.name for p in out.rglob("*")) == [".aictl.lock"]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_read_only_file_system_is_a_stage_error(
    tmp_path: Path, specs: tuple[Path, Path], stage: str
) -> None:
    words, code = STAGES[stage]
    with tmpfs(tmp_path / "disk", "4m") as disk:
        out = disk / "out"
        assert cli(*words, str(specs[0]), "--out", str(out)).exit_code == 0
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        r = cli(*words, str(specs[1]), "--out", str(out))
        assert r.exit_code == code
        assert "Read-only file system" in one_error(r)
        assert "read-only" in r.stderr
        if stage == "render":  # a reader still works on a read-only tree
            assert cli("render", str(specs[0]), "--out", str(out), "--check").exit_code == 0


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_name_too_long_is_a_stage_error(
    tmp_path: Path, specs: tuple[Path, Path], stage: str
) -> None:
    words, code = STAGES[stage]
    r = cli(*words, str(specs[0]), "--out", str(tmp_path / ("x" * 300)))
    assert r.exit_code == code
    assert "File name too long" in one_error(r)
