"""One advisory lock per build directory, so two aictl commands never mix their trees.

Writers hold `<build>/.aictl.lock` exclusively (flock), `render --check` shared. The kernel
drops the lock when its holder dies, SIGKILL included: there is no stale lock to clean. A
second command waits (one message through `on_wait`) up to AICTL_LOCK_TIMEOUT seconds
(default 300; 0 fails at once), then fails naming the holder (pid and command). Holding is
re-entrant within a process (`aictl provision` holds the lock and renders inside it); the
threads of a process take turns.
Public entries: `hold`, `on_wait`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aictl.errors import BuildLockedError, ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

LOCK_NAME = ".aictl.lock"
DEFAULT_TIMEOUT_S = 300.0
_POLL_S = 0.1


@dataclass(slots=True)
class _Held:
    fd: int
    depth: int
    shared: bool


_held: dict[str, _Held] = {}
_mutex = threading.Lock()
# threads of one process take turns too (acceptance writes results from many threads);
# re-entrant within a thread, as the flock is within the process
_threads: dict[str, threading.RLock] = {}
_notice: list[Callable[[str], None]] = []


def on_wait(notice: Callable[[str], None] | None) -> None:
    """Where the one 'waiting for the lock' message goes (the CLI prints it on stderr)."""
    _notice.clear()
    if notice is not None:
        _notice.append(notice)


def _timeout() -> float:
    raw = os.environ.get("AICTL_LOCK_TIMEOUT", "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S


def _me() -> str:
    # the command words only: option values (`-e token=...`) never reach the build directory
    words = ["aictl"]
    for arg in sys.argv[1:4]:
        if arg.startswith("-") or "/" in arg or len(arg) > 32:
            break
        words.append(arg)
    return f"pid {os.getpid()} ({' '.join(words)})"


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "another process"


def _open(root: Path, shared: bool, stage: ExitCode) -> int | None:
    from aictl.fsio import open_lock_file

    return open_lock_file(root, LOCK_NAME, create=not shared, stage=stage)


def _acquire(root: Path, fd: int, shared: bool, stage: ExitCode) -> None:
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    deadline = time.monotonic() + _timeout()
    told = False
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        holder = _holder(fd)
        if time.monotonic() >= deadline:
            raise BuildLockedError(
                f"{root} is locked by {holder}",
                hint="another aictl command is writing this build directory: wait for it, "
                "or stop it (the lock goes with its process); AICTL_LOCK_TIMEOUT sets the wait",
                exit_code=stage,
            )
        if not told:
            told = True
            for notice in _notice:
                notice(f"waiting for {root}: locked by {holder}")
        time.sleep(_POLL_S)


@contextmanager
def hold(root: Path, *, stage: ExitCode, shared: bool = False) -> Iterator[None]:
    """Hold the lock of build directory `root` (created if absent, unless `shared`).

    Args:
        root: the build directory.
        stage: exit code of the command's stage, for a lock that is not released in time.
        shared: a reader (`render --check`): shares with readers, waits for writers, and
            creates nothing (no directory, no lock: nothing to read).

    Raises:
        BuildLockedError: another process held it past AICTL_LOCK_TIMEOUT.
        WriteError: the lock file cannot be created (a symlink, a read-only directory).
    """
    key = os.path.realpath(root)
    with _mutex:
        turn = _threads.setdefault(key, threading.RLock())
    with turn, _held_by_thread(root, key, shared, stage):
        yield


@contextmanager
def _held_by_thread(root: Path, key: str, shared: bool, stage: ExitCode) -> Iterator[None]:
    """The flock part of `hold`, once this thread has its turn."""
    with _mutex:
        entry = _held.get(key)
        if entry is not None:
            entry.depth += 1
        else:
            fd = _open(root, shared, stage)
            if fd is not None:
                try:
                    _acquire(root, fd, shared, stage)
                    if not shared:
                        # who holds it, for a waiter's message (best effort: a full disk)
                        with contextlib.suppress(OSError):
                            os.ftruncate(fd, 0)
                            os.pwrite(fd, (_me() + "\n").encode(), 0)
                except BaseException:
                    os.close(fd)
                    raise
                entry = _held[key] = _Held(fd, 1, shared)
    try:
        yield
    finally:
        if entry is not None:
            with _mutex:
                entry.depth -= 1
                if entry.depth == 0:
                    del _held[key]
                    with contextlib.suppress(OSError):
                        if not entry.shared:
                            os.ftruncate(entry.fd, 0)
                        fcntl.flock(entry.fd, fcntl.LOCK_UN)
                    os.close(entry.fd)
