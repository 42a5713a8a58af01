"""The one writer: every file aictl writes under a build directory goes through here.

- A destination is a path relative to the build directory (`artifacts/hosts/gpu001/...`).
  Each directory on the way is opened relative to the one before with O_NOFOLLOW (openat),
  so a symlink anywhere below the build directory is refused, never followed, and nothing
  (`..`, an absolute path) leaves it. The build directory itself is the caller's choice.
- A file is first written under an unpredictable temporary name in its own directory
  (O_CREAT|O_EXCL|O_NOFOLLOW), then renamed over the destination.
- `publish` is a stage's transaction, under the build directory's lock (`buildlock`): every
  changed file is staged first, which is where a full disk or a read-only directory fails,
  and then every temporary file is removed and the previous tree is intact. Then a pending
  marker is created, stale files are removed, the staged files are renamed into place in the
  order they were written (so the manifest, written last, lands last) and the marker is
  removed. A process killed among those renames leaves the marker, which `render --check`
  reports as drift; leftovers of a killed run are swept by the next one.
- An OSError becomes a WriteError: the path, a hint, and the stage's exit code.

Public entries: `publish` (a transaction), `write_file`, `append_text`, `make_dir`,
`read_file`, `read_tree`, `pending`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from collections import OrderedDict
from contextlib import contextmanager
from typing import TYPE_CHECKING

from aictl import buildlock
from aictl.errors import ExitCode, WriteError

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator
    from pathlib import Path

TMP_PREFIX = ".aictl-"
TMP_SUFFIX = ".tmp"
PENDING_PREFIX = ".aictl-pending-"
SYMLINK = "symlink"
NOT_A_FILE = "not a regular file"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY
_NAME_MAX = 255
_CACHE = 64

_HINTS = {
    errno.ENOSPC: "the file system is full: free some space, or write elsewhere with --out DIR",
    errno.EDQUOT: "the disk quota is used up: free some space, or write elsewhere with --out DIR",
    errno.EROFS: "the file system is read-only: write elsewhere with --out DIR",
    errno.EACCES: "no permission to write here: check the owner and mode, or use --out DIR",
    errno.EPERM: "the file system refuses the change (immutable file?): check it, or use --out",
    errno.ENAMETOOLONG: "a name is longer than the file system allows (255 bytes a name): "
    "use shorter names or a shorter --out",
    errno.ENOTDIR: "a file stands where a directory must be: move it away, or use --out DIR",
    errno.EISDIR: "a directory stands where a file must be: move it away, or use --out DIR",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n)",
}


def _fail(path: Path | str, exc: OSError, stage: ExitCode) -> WriteError:
    hint = _HINTS.get(exc.errno or 0, "check the path and the file system")
    return WriteError(f"{path}: cannot write: {exc.strerror or exc}", hint=hint, exit_code=stage)


def _unsafe(path: Path | str, what: str, stage: ExitCode) -> WriteError:
    return WriteError(
        f"{path} is {what}: aictl writes only real directories and files below the build "
        "directory, and never through a link",
        hint=f"remove it (rm {path}) and run again, or use another --out",
        exit_code=stage,
    )


def _split(root: Path, rel: str, stage: ExitCode) -> tuple[str, ...]:
    parts = tuple(rel.split("/"))
    if not rel or "\0" in rel or any(p in ("", ".", "..") for p in parts):
        raise WriteError(
            f"{root / rel}: not a path below the build directory",
            hint="a name in the spec reached a file name; report it",
            exit_code=stage,
        )
    return parts


def _open_root(root: Path, *, create: bool, stage: ExitCode, mode: int = 0o755) -> int | None:
    """A directory fd of `root` (made when `create`), or None when it does not exist."""
    try:
        if create:
            root.mkdir(mode=mode, parents=True, exist_ok=True)
        return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        if create:
            raise _fail(root, FileNotFoundError(errno.ENOENT, "No such directory"), stage) from None
        return None
    except OSError as exc:
        raise _fail(root, exc, stage) from None


def open_lock_file(root: Path, name: str, *, create: bool, stage: ExitCode) -> int | None:
    """The lock file of `root`: created read-write for a writer; read-only (None when it or
    the directory is absent) for a reader."""
    dfd = _open_root(root, create=create, stage=stage)
    if dfd is None:
        return None
    try:
        flags = os.O_NOFOLLOW | os.O_CLOEXEC
        flags |= os.O_RDWR | os.O_CREAT if create else os.O_RDONLY
        return os.open(name, flags, 0o644, dir_fd=dfd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _unsafe(root / name, "a symlink", stage) from None
        raise _fail(root / name, exc, stage) from None
    finally:
        os.close(dfd)


class _Dirs:
    """Directory fds below one root, opened without following links (a small LRU)."""

    def __init__(self, root: Path, root_fd: int, stage: ExitCode) -> None:
        self.root = root
        self.root_fd = root_fd
        self.stage = stage
        self.cache: OrderedDict[tuple[str, ...], int] = OrderedDict()
        self.created: list[tuple[str, ...]] = []

    def open(self, parts: tuple[str, ...], *, create: bool) -> int | None:
        """fd of root/parts (None when absent and not `create`); raises on a link."""
        if not parts:
            return self.root_fd
        if parts in self.cache:
            self.cache.move_to_end(parts)
            return self.cache[parts]
        parent = self.open(parts[:-1], create=create)
        if parent is None:
            return None
        name = parts[-1]
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                return None
            os.mkdir(name, 0o755, dir_fd=parent)
            self.created.append(parts)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise self.unsafe(parent, parts) from None
            raise
        self.cache[parts] = fd
        while len(self.cache) > _CACHE:
            os.close(self.cache.popitem(last=False)[1])
        return fd

    def unsafe(self, parent: int, parts: tuple[str, ...]) -> WriteError:
        st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        what = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a directory"
        return _unsafe(self.root.joinpath(*parts), what, self.stage)

    def forget(self, parts: tuple[str, ...]) -> None:
        fd = self.cache.pop(parts, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for fd in self.cache.values():
            os.close(fd)
        self.cache.clear()


def _read_at(dfd: int, name: str, path: Path, stage: ExitCode) -> tuple[bytes, int] | None:
    """(bytes, mode) of a regular file, None when absent; a link or a device is refused."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dfd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _unsafe(path, "a symlink", stage) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _unsafe(path, NOT_A_FILE, stage)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), stat.S_IMODE(st.st_mode)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Publisher:
    """One stage's writes under one build directory; see the module docstring."""

    def __init__(self, root: Path, root_fd: int, stage: ExitCode, marker: str | None) -> None:
        self.root = root
        self.stage = stage
        self.marker = f"{PENDING_PREFIX}{marker}" if marker else None
        self._dirs = _Dirs(root, root_fd, stage)
        self._staged: list[tuple[tuple[str, ...], str, str]] = []
        self._remove: list[tuple[str, ...]] = []
        self._rmdirs: list[tuple[str, ...]] = []
        self._swept: set[tuple[str, ...]] = set()
        self.current: Path = root

    def read(self, rel: str) -> bytes | None:
        """A regular file's bytes (None when absent); a link on the way is refused."""
        parts = _split(self.root, rel, self.stage)
        self.current = self.root / rel
        dfd = self._dirs.open(parts[:-1], create=False)
        if dfd is None:
            return None
        got = _read_at(dfd, parts[-1], self.current, self.stage)
        return None if got is None else got[0]

    def write(self, rel: str, data: bytes, *, mode: int = 0o644) -> bool:
        """Stage `data` for `rel` (False: the file already has these bytes and mode)."""
        parts = _split(self.root, rel, self.stage)
        self.current = self.root / rel
        name = parts[-1]
        if len(name.encode()) > _NAME_MAX:
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
        dfd = self._dirs.open(parts[:-1], create=True)
        assert dfd is not None
        self._sweep(parts[:-1], dfd)
        have = _read_at(dfd, name, self.current, self.stage)
        if have == (data, mode):
            return False
        tmp = f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}{TMP_SUFFIX}"
        fd = os.open(
            tmp,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=dfd,
        )
        self._staged.append((parts[:-1], tmp, name))
        try:
            _write_all(fd, data)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        return True

    def remove_stale(self, rel_dir: str, keep: Collection[str]) -> list[str]:
        """Schedule every file below `rel_dir` not in `keep` (paths relative to the root) for
        removal, and the directories left empty; links are removed, never followed."""
        parts = _split(self.root, rel_dir, self.stage)
        self.current = self.root / rel_dir
        found: list[str] = []
        if self._dirs.open(parts, create=False) is not None:
            self._scan(parts, keep, found)
        return found

    def _scan(self, parts: tuple[str, ...], keep: Collection[str], found: list[str]) -> None:
        dfd = self._dirs.open(parts, create=False)
        assert dfd is not None
        with os.scandir(dfd) as it:
            entries = sorted((e.name, e.is_dir(follow_symlinks=False)) for e in it)
        for name, is_dir in entries:
            sub = (*parts, name)
            if is_dir:
                self._scan(sub, keep, found)
                self._rmdirs.append(sub)
            elif "/".join(sub) not in keep:
                self._remove.append(sub)
                found.append("/".join(sub))

    def _sweep(self, parts: tuple[str, ...], dfd: int) -> None:
        # temporary files of a killed run (we hold the lock: nobody else is writing here)
        if parts in self._swept:
            return
        self._swept.add(parts)
        mine = f"{TMP_PREFIX}{os.getpid()}-"
        for name in os.listdir(dfd):
            ours = name.startswith(TMP_PREFIX) and name.endswith(TMP_SUFFIX)
            if ours and not name.startswith(mine):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=dfd)

    def commit(self) -> None:
        """Publish: marker, removals, renames in order, marker gone."""
        if not self._staged and not self._remove:
            return
        root_fd = self._dirs.root_fd
        if self.marker:
            self.current = self.root / self.marker
            os.close(
                os.open(
                    self.marker,
                    os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o644,
                    dir_fd=root_fd,
                )
            )
        for parts in self._remove:
            self.current = self.root.joinpath(*parts)
            dfd = self._dirs.open(parts[:-1], create=False)
            if dfd is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(parts[-1], dir_fd=dfd)
        for parts in self._rmdirs:
            dfd = self._dirs.open(parts[:-1], create=False)
            if dfd is None:
                continue
            try:
                os.rmdir(parts[-1], dir_fd=dfd)
                self._dirs.forget(parts)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    raise
        while self._staged:
            parts, tmp, name = self._staged[0]
            self.current = self.root.joinpath(*parts, name)
            dfd = self._dirs.open(parts, create=False)
            if dfd is None:
                raise FileNotFoundError(errno.ENOENT, "directory vanished")
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            self._staged.pop(0)
        if self.marker:
            os.unlink(self.marker, dir_fd=root_fd)

    def abort(self) -> None:
        """Remove what was staged and the directories made for it (best effort)."""
        for parts, tmp, _ in self._staged:
            dfd = self._dirs.open(parts, create=False)
            if dfd is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dfd)
        self._staged.clear()
        for parts in reversed(self._dirs.created):
            self._dirs.forget(parts)
            with contextlib.suppress(OSError):
                dfd = self._dirs.open(parts[:-1], create=False)
                if dfd is not None:
                    os.rmdir(parts[-1], dir_fd=dfd)

    def close(self) -> None:
        self._dirs.close()
        os.close(self._dirs.root_fd)


@contextmanager
def publish(
    root: Path, *, stage: ExitCode, marker: str | None = None, lock: bool = True
) -> Iterator[Publisher]:
    """A transaction under `root` (the build directory), holding its lock.

    Args:
        root: the build directory (made when absent).
        stage: the exit code a failure gets (the stage's).
        marker: name of the pending marker (`render`: `.aictl-pending-render` exists while
            files are being renamed into place).
        lock: False for a file outside any build directory (`spec init --out FILE`).

    Raises:
        WriteError: a link or non-directory on the way, or an OSError (full disk, ...);
            nothing staged is left behind.
        BuildLockedError: another command holds the directory past AICTL_LOCK_TIMEOUT.
    """
    with buildlock.hold(root, stage=stage) if lock else contextlib.nullcontext():
        root_fd = _open_root(root, create=True, stage=stage)
        assert root_fd is not None
        pub = Publisher(root, root_fd, stage, marker)
        try:
            try:
                yield pub
                pub.commit()
            except BaseException:
                pub.abort()
                raise
        except OSError as exc:
            raise _fail(pub.current, exc, stage) from None
        finally:
            pub.close()


def write_file(
    root: Path, rel: str, data: bytes, *, stage: ExitCode, mode: int = 0o644, lock: bool = True
) -> Path:
    """Write one file below `root` atomically (see `publish`); returns its path."""
    with publish(root, stage=stage, lock=lock) as pub:
        pub.write(rel, data, mode=mode)
    return root / rel


def append_text(
    root: Path,
    rel: str,
    text: str,
    *,
    stage: ExitCode,
    mode: int = 0o644,
    dir_mode: int = 0o755,
    lock: bool = True,
) -> None:
    """Append `text` to a file below `root` (created with `mode`; `root` made with
    `dir_mode`), flushed to disk. `lock=False` for files outside a build directory
    (known_hosts in ~/.ssh)."""
    parts = _split(root, rel, stage)
    path = root / rel
    with buildlock.hold(root, stage=stage) if lock else contextlib.nullcontext():
        root_fd = _open_root(root, create=True, stage=stage, mode=dir_mode)
        assert root_fd is not None
        dirs = _Dirs(root, root_fd, stage)
        try:
            dfd = dirs.open(parts[:-1], create=True)
            assert dfd is not None
            try:
                fd = os.open(
                    parts[-1],
                    os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                    mode,
                    dir_fd=dfd,
                )
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _unsafe(path, "a symlink", stage) from None
                raise
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise _unsafe(path, NOT_A_FILE, stage)
                _write_all(fd, text.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _fail(path, exc, stage) from None
        finally:
            dirs.close()
            os.close(root_fd)


def make_dir(root: Path, rel: str, *, stage: ExitCode) -> Path:
    """Make the directories of `rel` below `root` (no link followed); returns the path."""
    parts = _split(root, rel, stage)
    with buildlock.hold(root, stage=stage):
        root_fd = _open_root(root, create=True, stage=stage)
        assert root_fd is not None
        dirs = _Dirs(root, root_fd, stage)
        try:
            dirs.open(parts, create=True)
        except OSError as exc:
            raise _fail(root / rel, exc, stage) from None
        finally:
            dirs.close()
            os.close(root_fd)
    return root / rel


@contextmanager
def _reader(root: Path, stage: ExitCode) -> Iterator[_Dirs | None]:
    root_fd = _open_root(root, create=False, stage=stage)
    if root_fd is None:
        yield None
        return
    dirs = _Dirs(root, root_fd, stage)
    try:
        yield dirs
    except OSError as exc:
        raise _fail(root, exc, stage) from None
    finally:
        dirs.close()
        os.close(root_fd)


def read_file(root: Path, rel: str, *, stage: ExitCode) -> bytes | None:
    """A regular file below `root` without following links (None when absent)."""
    parts = _split(root, rel, stage)
    with _reader(root, stage) as dirs:
        dfd = None if dirs is None else dirs.open(parts[:-1], create=False)
        if dfd is None:
            return None
        got = _read_at(dfd, parts[-1], root / rel, stage)
        return None if got is None else got[0]


def read_tree(root: Path, rel_dir: str, *, stage: ExitCode) -> dict[str, str]:
    """Every entry below `root/rel_dir` (paths relative to it) -> sha256 of a regular file,
    or SYMLINK / NOT_A_FILE; links are reported, never followed. {} when absent."""
    parts = _split(root, rel_dir, stage)
    out: dict[str, str] = {}
    with _reader(root, stage) as dirs:
        if dirs is None or dirs.open(parts, create=False) is None:
            return out
        _hash_tree(dirs, parts, len(parts), out)
    return out


def _hash_tree(dirs: _Dirs, parts: tuple[str, ...], base: int, out: dict[str, str]) -> None:
    dfd = dirs.open(parts, create=False)
    assert dfd is not None
    with os.scandir(dfd) as it:
        entries = sorted((e.name, e.is_dir(follow_symlinks=False), e.is_symlink()) for e in it)
    for name, is_dir, is_link in entries:
        sub = (*parts, name)
        rel = "/".join(sub[base:])
        if is_dir:
            _hash_tree(dirs, sub, base, out)
        elif is_link:
            out[rel] = SYMLINK
        else:
            # the recursion above may have closed an fd of the LRU: open it again
            dfd = dirs.open(parts, create=False)
            assert dfd is not None
            try:
                got = _read_at(dfd, name, dirs.root.joinpath(*sub), dirs.stage)
            except WriteError:
                got = None
                out[rel] = NOT_A_FILE
            if got is not None:
                out[rel] = hashlib.sha256(got[0]).hexdigest()


def pending(root: Path, marker: str) -> bool:
    """Whether a `publish(marker=...)` was interrupted while renaming files into place."""
    try:
        os.lstat(root / f"{PENDING_PREFIX}{marker}")
    except OSError:
        return False
    return True
