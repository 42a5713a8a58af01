"""The remote room: run one command on many hosts over SSH (paramiko), results as data.

Host keys are verified against a known_hosts file, strictly: an unknown key is refused with its
fingerprint and how to accept it; accepting new keys is an explicit option and is reported;
a changed or a revoked (`@revoked`) key is always refused. aictl reads known_hosts itself: a
malformed line or a file that is not UTF-8 is a KnownHostsError naming file:line (exit 7).
Hosts that cannot be reached are results, never crashes, and each result says what went
wrong as a `ResultKind`. Public entries: `SshOptions`, `Target`, `HostResult`, `ResultKind`,
`run_one`, `run_all`, `group_results`, `load_known_hosts`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paramiko

from aictl import fsio
from aictl.errors import ExitCode, KnownHostsError
from aictl.natsort import compress_hostlist, natural_key

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True, slots=True)
class Target:
    """A host to reach: its name (for output) and address."""

    name: str
    address: str
    port: int = 22


@dataclass(frozen=True, slots=True)
class SshOptions:
    """How to connect: user, key, known_hosts, optional jump host, limits."""

    user: str = "root"
    key: Path | None = None
    known_hosts: Path = field(default_factory=lambda: Path.home() / ".ssh" / "known_hosts")
    accept_new: bool = False
    jump: Target | None = None
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    forks: int = 64


class ResultKind(StrEnum):
    """What happened on a host, for callers to decide on (`error` is the text for people)."""

    OK = "ok"
    UNREACHABLE = "unreachable"
    HOST_KEY_REFUSED = "host-key-refused"  # unknown, changed or revoked
    AUTH_FAILED = "auth-failed"
    COMMAND_FAILED = "command-failed"  # it ran and exited non-zero
    TIMEOUT = "timeout"  # it ran past the command timeout


@dataclass(frozen=True, slots=True)
class HostResult:
    """What happened on one host. `rc` is None when the command did not run. `kind` is
    derived from rc and error when not given."""

    host: str
    address: str
    rc: int | None
    stdout: str = ""
    stderr: str = ""
    error: str = ""
    elapsed: float = 0.0
    accepted_key: str = ""
    kind: ResultKind | None = None

    def __post_init__(self) -> None:
        if self.kind is None:
            kind = (
                ResultKind.OK
                if self.ok
                else ResultKind.COMMAND_FAILED
                if self.rc is not None
                else ResultKind.UNREACHABLE
            )
            object.__setattr__(self, "kind", kind)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.error

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "address": self.address,
            "rc": self.rc,
            "ok": self.ok,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "error": self.error,
            "elapsed": round(self.elapsed, 3),
            "accepted_key": self.accepted_key,
            "kind": str(self.kind),
        }


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint of a host key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class UnknownHostKeyError(Exception):
    """The host offered a key that known_hosts does not have."""

    def __init__(self, host: str, key: paramiko.PKey) -> None:
        self.fingerprint = fingerprint(key)
        self.key_type = key.get_name()
        super().__init__(f"unknown host key {self.key_type} {self.fingerprint}")


class RevokedHostKeyError(Exception):
    """The host offered a key that known_hosts marks @revoked."""

    def __init__(self, key: paramiko.PKey) -> None:
        self.fingerprint = fingerprint(key)
        self.key_type = key.get_name()
        super().__init__(f"revoked host key {self.key_type} {self.fingerprint}")


@dataclass(frozen=True, slots=True)
class KnownHosts:
    """A known_hosts file as aictl reads it: trusted keys, and the revoked key blobs."""

    entries: tuple[tuple[tuple[str, ...], paramiko.PKey], ...]
    revoked: frozenset[bytes]


def _bad_line(path: Path, lineno: int, what: str) -> KnownHostsError:
    return KnownHostsError(
        f"{path}:{lineno}: {what}",
        hint="fix or delete that line (each line: hosts key-type base64-key; "
        "ssh-keygen -R HOST -f FILE removes a host's lines)",
    )


def load_known_hosts(path: Path) -> KnownHosts:
    """Read `path` (absent: no keys). Lines with a key type paramiko cannot use and
    @cert-authority lines are skipped; @revoked keys are refused for every host.

    Raises:
        KnownHostsError: a line that is not UTF-8 or not a known_hosts line; unreadable.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return KnownHosts((), frozenset())
    except OSError as exc:
        raise KnownHostsError(
            f"{path}: cannot read: {exc.strerror}", hint="check the file, or pass --known-hosts"
        ) from None
    entries: list[tuple[tuple[str, ...], paramiko.PKey]] = []
    revoked: set[bytes] = set()
    for lineno, chunk in enumerate(raw.split(b"\n"), 1):
        try:
            line = chunk.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise _bad_line(path, lineno, "not UTF-8 text") from None
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        marker = fields.pop(0) if fields[0].startswith("@") else ""
        if marker not in ("", "@revoked", "@cert-authority"):
            raise _bad_line(path, lineno, f"unknown marker {marker!r}")
        if len(fields) < 3:
            raise _bad_line(path, lineno, "expected hosts, key type and key")
        hosts, key_type, b64 = fields[:3]
        try:
            blob = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise _bad_line(path, lineno, "the key is not base64") from None
        if marker == "@revoked":
            revoked.add(blob)
            continue
        if marker == "@cert-authority":
            continue
        try:
            key = paramiko.PKey.from_type_string(key_type, blob)
        except paramiko.UnknownKeyType:
            continue
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            raise _bad_line(path, lineno, f"not a valid {key_type} key") from None
        entries.append((tuple(hosts.split(",")), key))
    return KnownHosts(
        tuple(e for e in entries if e[1].asbytes() not in revoked), frozenset(revoked)
    )


class _Refuse(paramiko.MissingHostKeyPolicy):
    def __init__(self, revoked: frozenset[bytes]) -> None:
        self.revoked = revoked

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        if key.asbytes() in self.revoked:
            raise RevokedHostKeyError(key)
        raise UnknownHostKeyError(hostname, key)


_append = threading.Lock()


class _AcceptNew(_Refuse):
    """Accept and record a key only for a host known_hosts has no entry for at all (and
    never a revoked key)."""

    def __init__(self, path: Path, accepted: list[str], revoked: frozenset[bytes]) -> None:
        super().__init__(revoked)
        self.path = path
        self.accepted = accepted

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        if key.asbytes() in self.revoked:
            raise RevokedHostKeyError(key)
        with _append:
            _append_known(self.path, f"{hostname} {key.get_name()} {key.get_base64()}\n")
        self.accepted.append(f"{key.get_name()} {fingerprint(key)}")


def _append_known(path: Path, text: str) -> None:
    # known_hosts mode 0600, its directory 0700 when made (a fresh machine has no ~/.ssh)
    fsio.append_text(
        path.parent, path.name, text, stage=ExitCode.REMOTE, mode=0o600, dir_mode=0o700, lock=False
    )


def _host_entry(t: Target) -> str:
    return t.address if t.port == 22 else f"[{t.address}]:{t.port}"


def _connect(
    target: Target,
    opts: SshOptions,
    accepted: list[str],
    sock: Any = None,
    pkey: paramiko.PKey | None = None,
) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    known = load_known_hosts(opts.known_hosts)
    keys = client.get_host_keys()
    for hosts, key in known.entries:
        for host in hosts:
            keys.add(host, key.get_name(), key)
    policy: paramiko.MissingHostKeyPolicy = (
        _AcceptNew(opts.known_hosts, accepted, known.revoked)
        if opts.accept_new
        else _Refuse(known.revoked)
    )
    client.set_missing_host_key_policy(policy)
    client.connect(
        target.address,
        port=target.port,
        username=opts.user,
        pkey=pkey,
        look_for_keys=pkey is None,
        allow_agent=False,
        sock=sock,
        timeout=opts.connect_timeout,
        banner_timeout=opts.connect_timeout,
        auth_timeout=opts.connect_timeout,
    )
    return client


def run_one(target: Target, command: str, opts: SshOptions) -> HostResult:
    """Run `command` on one host; every failure becomes part of the result, with its kind.

    Raises:
        KnownHostsError: the known_hosts file cannot be used (for every host alike).
    """
    start = time.monotonic()
    accepted: list[str] = []
    clients: list[paramiko.SSHClient] = []
    phase = "connect"

    def result(
        rc: int | None,
        out: str = "",
        err: str = "",
        error: str = "",
        kind: ResultKind | None = None,
    ) -> HostResult:
        return HostResult(
            target.name,
            target.address,
            rc,
            out,
            err,
            error,
            time.monotonic() - start,
            ", ".join(accepted),
            kind,
        )

    refused = ResultKind.HOST_KEY_REFUSED
    pkey = None
    if opts.key is not None:
        # loaded here, once: a key problem is an authentication failure, not "unreachable"
        try:
            pkey = paramiko.PKey.from_path(opts.key)
        except FileNotFoundError:
            return result(None, error=f"key {opts.key} not found", kind=ResultKind.AUTH_FAILED)
        except paramiko.PasswordRequiredException:
            return result(
                None, error=f"key {opts.key} needs a passphrase", kind=ResultKind.AUTH_FAILED
            )
        except (paramiko.SSHException, paramiko.UnknownKeyType, OSError, ValueError) as exc:
            return result(
                None, error=f"cannot use key {opts.key}: {exc}", kind=ResultKind.AUTH_FAILED
            )
    try:
        sock = None
        if opts.jump is not None:
            jump = _connect(opts.jump, opts, accepted, pkey=pkey)
            clients.append(jump)
            transport = jump.get_transport()
            assert transport is not None
            sock = transport.open_channel(
                "direct-tcpip",
                (target.address, target.port),
                ("127.0.0.1", 0),
                timeout=opts.connect_timeout,
            )
        client = _connect(target, opts, accepted, sock, pkey)
        clients.append(client)
        phase = "command"
        _, stdout, stderr = client.exec_command(command, timeout=opts.command_timeout)
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        return result(stdout.channel.recv_exit_status(), out, err)
    except UnknownHostKeyError as exc:
        missing = "" if opts.known_hosts.exists() else " (the file does not exist)"
        return result(
            None,
            error=f"host key not in {opts.known_hosts}{missing}: {exc.key_type} "
            f"{exc.fingerprint}; verify it out of band, then add it (ssh-keygen -F, ssh-keyscan "
            f"-t {exc.key_type} {target.address} >> {opts.known_hosts}) or re-run with "
            "--accept-new",
            kind=refused,
        )
    except RevokedHostKeyError as exc:
        return result(
            None,
            error=f"REVOKED host key {exc.key_type} {exc.fingerprint} "
            f"(@revoked in {opts.known_hosts}); refusing",
            kind=refused,
        )
    except paramiko.BadHostKeyException as exc:
        return result(
            None,
            error=f"HOST KEY CHANGED for {target.address}: got "
            f"{fingerprint(exc.key)}, known_hosts has "
            f"{fingerprint(exc.expected_key)}; refusing (a reinstalled node, or "
            "someone in the middle)",
            kind=refused,
        )
    except paramiko.AuthenticationException as exc:
        why = (
            "the key needs a passphrase"
            if isinstance(exc, paramiko.PasswordRequiredException)
            else ""
        )
        return result(
            None,
            error=f"authentication failed as {opts.user}" + (f": {why}" if why else ""),
            kind=ResultKind.AUTH_FAILED,
        )
    except paramiko.ssh_exception.NoValidConnectionsError:
        return result(
            None,
            error=f"unreachable: connection refused on port {target.port}",
            kind=ResultKind.UNREACHABLE,
        )
    except TimeoutError:
        if phase == "command":
            return result(
                None,
                error=f"timed out after {opts.command_timeout:g} s",
                kind=ResultKind.TIMEOUT,
            )
        return result(
            None,
            error=f"unreachable: no answer within {opts.connect_timeout:g} s",
            kind=ResultKind.UNREACHABLE,
        )
    except paramiko.SSHException as exc:
        if str(exc).startswith("No authentication methods"):
            return result(
                None,
                error=f"authentication failed as {opts.user}: no key to offer "
                "(pass --key, or put one in ~/.ssh)",
                kind=ResultKind.AUTH_FAILED,
            )
        return result(
            None, error=f"unreachable: {exc or type(exc).__name__}", kind=ResultKind.UNREACHABLE
        )
    except (OSError, EOFError) as exc:
        return result(
            None, error=f"unreachable: {exc or type(exc).__name__}", kind=ResultKind.UNREACHABLE
        )
    finally:
        for c in reversed(clients):
            c.close()


def run_all(
    targets: list[Target],
    command: str,
    opts: SshOptions,
    *,
    progress: Callable[[HostResult], None] | None = None,
) -> list[HostResult]:
    """Run `command` on every target, at most `opts.forks` at a time; natural host order.

    Raises:
        KnownHostsError: the known_hosts file cannot be used (before any connection).
    """
    load_known_hosts(opts.known_hosts)
    if opts.accept_new and not opts.known_hosts.exists():
        _append_known(opts.known_hosts, "")
    results: list[HostResult] = []
    with ThreadPoolExecutor(max_workers=max(1, min(opts.forks, len(targets) or 1))) as pool:
        for res in pool.map(lambda t: run_one(t, command, opts), targets):
            results.append(res)
            if progress is not None:
                progress(res)
    return sorted(results, key=lambda r: natural_key(r.host))


@dataclass(frozen=True, slots=True)
class Group:
    """Hosts that produced the same output (dshbak -c style)."""

    hosts: str
    count: int
    rc: int | None
    output: str
    error: str
    kind: ResultKind = ResultKind.OK


def group_results(results: list[HostResult]) -> list[Group]:
    """Fold identical results together; errors and exit codes keep groups apart."""
    buckets: dict[tuple[int | None, str, str, ResultKind], list[str]] = {}
    for r in results:
        kind = r.kind or ResultKind.OK
        buckets.setdefault((r.rc, r.stdout + r.stderr, r.error, kind), []).append(r.host)
    groups = [
        Group(compress_hostlist(hosts), len(hosts), rc, out, err, kind)
        for (rc, out, err, kind), hosts in buckets.items()
    ]
    return sorted(
        groups, key=lambda g: (g.error != "", g.rc not in (0, None), -g.count, natural_key(g.hosts))
    )
