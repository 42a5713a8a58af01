"""The writer (aictl/fsio.py) and the build-directory lock (aictl/buildlock.py): links are
refused and never followed, temporary names are unpredictable, a failed transaction leaves
the previous tree, I/O errors are one-line stage errors, the lock names its holder and dies
with it."""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

import pytest

from aictl import buildlock, fsio
from aictl.errors import BuildLockedError, ExitCode, WriteError

STAGE = ExitCode.RENDER


def test_writes_below_the_root_and_replaces_atomically(tmp_path: Path) -> None:
    with fsio.publish(tmp_path, stage=STAGE) as pub:
        assert pub.write("a/b/c.txt", b"one\n")
        assert pub.write("top.txt", b"x", mode=0o755)
        # staged, not yet in place
        assert not (tmp_path / "a/b/c.txt").exists()
    assert (tmp_path / "a/b/c.txt").read_bytes() == b"one\n"
    assert (tmp_path / "top.txt").stat().st_mode & 0o777 == 0o755
    with fsio.publish(tmp_path, stage=STAGE) as pub:
        assert not pub.write("a/b/c.txt", b"one\n")  # same bytes: not rewritten
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        ".aictl.lock",
        "a",
        "b",
        "c.txt",
        "top.txt",
    ]


@pytest.mark.parametrize("rel", ["../out.txt", "/etc/passwd", "a/../../x", "a//b", "", "a/./b"])
def test_a_path_that_leaves_the_root_is_refused(tmp_path: Path, rel: str) -> None:
    root = tmp_path / "build"
    with pytest.raises(WriteError) as err, fsio.publish(root, stage=STAGE) as pub:
        pub.write(rel, b"x")
    assert err.value.exit_code == STAGE
    assert "not a path below the build directory" in err.value.message
    assert not (tmp_path / "out.txt").exists()


def test_a_symlinked_directory_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep\n")
    root = tmp_path / "build"
    (root / "artifacts").mkdir(parents=True)
    (root / "artifacts" / "hosts").symlink_to(victim)
    with pytest.raises(WriteError) as err, fsio.publish(root, stage=STAGE) as pub:
        pub.remove_stale("artifacts/hosts", keep=set())
    assert "artifacts/hosts is a symlink" in err.value.message
    with pytest.raises(WriteError), fsio.publish(root, stage=STAGE) as pub:
        pub.write("artifacts/hosts/n1/file", b"x")
    assert sorted(p.name for p in victim.iterdir()) == ["precious"]


def planted(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """(root, target): `root/name` is a link to a file of someone else's."""
    target = tmp_path / "theirs"
    target.write_text("theirs\n")
    root = tmp_path / "build"
    root.mkdir()
    (root / name).symlink_to(target)
    return root, target


def test_a_symlinked_file_is_refused_never_written_through(tmp_path: Path) -> None:
    root, target = planted(tmp_path, "nccl.conf")
    with pytest.raises(WriteError) as err, fsio.publish(root, stage=STAGE) as pub:
        pub.write("nccl.conf", b"ours\n")
    assert "is a symlink" in err.value.message
    assert err.value.hint.startswith("remove it")
    assert target.read_text() == "theirs\n"
    with pytest.raises(WriteError):
        fsio.read_file(root, "nccl.conf", stage=STAGE)


def test_read_tree_reports_links_and_devices_without_following(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    (tmp_path / "d" / "link").symlink_to("/etc/hostname")
    (tmp_path / "d" / "dirlink").symlink_to("/etc")
    os.mkfifo(tmp_path / "d" / "fifo")
    tree = fsio.read_tree(tmp_path, "d", stage=STAGE)
    assert tree["link"] == tree["dirlink"] == fsio.SYMLINK
    assert tree["fifo"] == fsio.NOT_A_FILE
    assert tree["f"] == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
    assert fsio.read_tree(tmp_path, "absent", stage=STAGE) == {}


def test_stale_links_are_removed_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep\n")
    root = tmp_path / "build"
    (root / "out" / "sub").mkdir(parents=True)
    (root / "out" / "sub" / "link").symlink_to(victim)
    (root / "out" / "old").write_text("x")
    with fsio.publish(root, stage=STAGE) as pub:
        gone = pub.remove_stale("out", keep={"out/kept"})
        pub.write("out/kept", b"k")
    assert gone == ["out/old", "out/sub/link"]
    assert sorted(p.name for p in (root / "out").iterdir()) == ["kept"]
    assert (victim / "precious").read_text() == "keep\n"


def test_temporary_names_are_unpredictable_and_a_planted_one_is_not_followed(
    tmp_path: Path,
) -> None:
    target = tmp_path / "target"
    target.write_text("theirs\n")
    root = tmp_path / "build"
    root.mkdir()
    # the fixed names of the old writer, and a name of this writer's shape
    for name in (".manifest.json.tmp", ".topology.json.tmp", ".aictl-1-0000000000000000.tmp"):
        (root / name).symlink_to(target)
    names = set()
    real_open = os.open

    def spy(path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if str(path).startswith(fsio.TMP_PREFIX):
            names.add(path)
            assert flags & os.O_EXCL and flags & os.O_NOFOLLOW
        return real_open(path, flags, mode, dir_fd=dir_fd)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "open", spy)
        for _ in range(3):
            fsio.write_file(root, "manifest.json", os.urandom(8), stage=STAGE)
    assert len(names) == 3
    assert target.read_text() == "theirs\n"
    assert (root / "manifest.json").is_file() and not (root / "manifest.json").is_symlink()


def test_a_failed_transaction_leaves_the_previous_tree(tmp_path: Path) -> None:
    fsio.write_file(tmp_path, "a/one", b"old", stage=STAGE)
    with pytest.raises(RuntimeError), fsio.publish(tmp_path, stage=STAGE, marker="t") as pub:
        pub.write("a/one", b"new")
        pub.write("b/c/two", b"new")
        raise RuntimeError("interrupted")
    assert (tmp_path / "a/one").read_bytes() == b"old"
    assert not (tmp_path / "b").exists()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["one"]
    assert not fsio.pending(tmp_path, "t")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "the file system is full"),
        (errno.EROFS, "read-only"),
        (errno.EACCES, "no permission"),
        (errno.ENAMETOOLONG, "longer than the file system allows"),
    ],
)
def test_io_errors_are_stage_errors_with_the_path_and_a_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    fsio.write_file(tmp_path, "keep", b"old", stage=STAGE)
    real_write = os.write
    calls = {"n": 0}

    def failing(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 2:  # the second file of the transaction
            raise OSError(code, os.strerror(code))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", failing)
    with pytest.raises(WriteError) as err, fsio.publish(tmp_path, stage=ExitCode.TOPOLOGY) as pub:
        pub.write("keep", b"new")
        pub.write("sub/second", b"new")
    monkeypatch.undo()
    assert err.value.exit_code == ExitCode.TOPOLOGY
    assert err.value.message.startswith(f"{tmp_path / 'sub/second'}: cannot write: ")
    assert words in err.value.hint
    assert (tmp_path / "keep").read_bytes() == b"old"
    assert not (tmp_path / "sub").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_name_over_255_bytes_fails_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(WriteError) as err, fsio.publish(tmp_path, stage=STAGE) as pub:
        pub.write("ok", b"x")
        pub.write("d/" + "n" * 256, b"x")
    assert "File name too long" in err.value.message
    assert not (tmp_path / "ok").exists()


def test_append_creates_file_and_directory_with_their_modes(tmp_path: Path) -> None:
    ssh = tmp_path / "home" / ".ssh"
    fsio.append_text(
        ssh, "known_hosts", "h k v\n", stage=ExitCode.REMOTE, mode=0o600, dir_mode=0o700, lock=False
    )
    fsio.append_text(ssh, "known_hosts", "h2 k v\n", stage=ExitCode.REMOTE, lock=False)
    assert (ssh / "known_hosts").read_text() == "h k v\nh2 k v\n"
    assert ssh.stat().st_mode & 0o777 == 0o700
    assert (ssh / "known_hosts").stat().st_mode & 0o777 == 0o600
    assert not (ssh / ".aictl.lock").exists()


def _child_holds_lock(root: Path) -> tuple[int, int]:
    """Fork a child that holds the lock of `root` until killed; (pid, read end)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            with buildlock.hold(root, stage=STAGE):
                os.write(w, b"held")
                time.sleep(60)
        finally:
            os._exit(0)
    os.close(w)
    assert os.read(r, 4) == b"held"
    return pid, r


def test_a_second_writer_fails_naming_the_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid, r = _child_holds_lock(tmp_path)
    try:
        monkeypatch.setenv("AICTL_LOCK_TIMEOUT", "0.3")
        told: list[str] = []
        buildlock.on_wait(told.append)
        with pytest.raises(BuildLockedError) as err:
            fsio.write_file(tmp_path, "x", b"x", stage=ExitCode.TOPOLOGY)
        assert err.value.exit_code == ExitCode.TOPOLOGY
        assert f"is locked by pid {pid} (aictl" in err.value.message
        assert len(told) == 1
        assert told[0].startswith(f"waiting for {tmp_path}: locked by pid {pid} (aictl")
        assert not (tmp_path / "x").exists()
    finally:
        buildlock.on_wait(None)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)


def test_the_lock_dies_with_a_killed_holder_and_a_waiter_proceeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid, r = _child_holds_lock(tmp_path)
    monkeypatch.setenv("AICTL_LOCK_TIMEOUT", "30")
    started = time.monotonic()
    killer = os.fork()
    if killer == 0:  # pragma: no cover - the child
        time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
        os._exit(0)
    fsio.write_file(tmp_path, "after", b"ok", stage=STAGE)
    waited = time.monotonic() - started
    os.waitpid(killer, 0)
    os.waitpid(pid, 0)
    os.close(r)
    assert (tmp_path / "after").read_bytes() == b"ok"
    assert 0.4 < waited < 10


def test_holding_is_reentrant_and_readers_share(tmp_path: Path) -> None:
    with buildlock.hold(tmp_path, stage=STAGE):
        fsio.write_file(tmp_path, "inner", b"x", stage=STAGE)  # would deadlock otherwise
        with buildlock.hold(tmp_path, stage=STAGE, shared=True):
            pass
    with buildlock.hold(tmp_path / "absent", stage=STAGE, shared=True):
        pass
    assert not (tmp_path / "absent").exists()  # a reader creates nothing


def test_the_lock_file_may_not_be_a_link(tmp_path: Path) -> None:
    root, _ = planted(tmp_path, ".aictl.lock")
    with pytest.raises(WriteError, match="is a symlink"):
        fsio.write_file(root, "x", b"x", stage=STAGE)
