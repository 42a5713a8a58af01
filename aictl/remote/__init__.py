"""The remote room: run one command on many hosts over SSH (paramiko), results as data.

Host keys are verified against a known_hosts file, strictly: an unknown key is refused with its
fingerprint and how to accept it; accepting new keys is an explicit option and is reported;
a changed key is always refused. Hosts that cannot be reached are results, never crashes.
Public entries: `SshOptions`, `Target`, `HostResult`, `run_all`, `group_results`.
"""

from __future__ import annotations

import base64
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paramiko

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


@dataclass(frozen=True, slots=True)
class HostResult:
    """What happened on one host. `rc` is None when the command did not run."""

    host: str
    address: str
    rc: int | None
    stdout: str = ""
    stderr: str = ""
    error: str = ""
    elapsed: float = 0.0
    accepted_key: str = ""

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


class _Refuse(paramiko.MissingHostKeyPolicy):
    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise UnknownHostKeyError(hostname, key)


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """Accept and record a key only for a host known_hosts has no entry for at all."""

    def __init__(self, path: Path, accepted: list[str]) -> None:
        self.path = path
        self.accepted = accepted

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        with self.path.open("a") as fh:
            fh.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        self.accepted.append(f"{key.get_name()} {fingerprint(key)}")


def _host_entry(t: Target) -> str:
    return t.address if t.port == 22 else f"[{t.address}]:{t.port}"


def _connect(
    target: Target, opts: SshOptions, accepted: list[str], sock: Any = None
) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    if opts.known_hosts.exists():
        client.load_host_keys(str(opts.known_hosts))
    policy: paramiko.MissingHostKeyPolicy = (
        _AcceptNew(opts.known_hosts, accepted) if opts.accept_new else _Refuse()
    )
    client.set_missing_host_key_policy(policy)
    client.connect(
        target.address,
        port=target.port,
        username=opts.user,
        key_filename=str(opts.key) if opts.key else None,
        look_for_keys=opts.key is None,
        allow_agent=False,
        sock=sock,
        timeout=opts.connect_timeout,
        banner_timeout=opts.connect_timeout,
        auth_timeout=opts.connect_timeout,
    )
    return client


def run_one(target: Target, command: str, opts: SshOptions) -> HostResult:
    """Run `command` on one host; every failure becomes part of the result."""
    start = time.monotonic()
    accepted: list[str] = []
    clients: list[paramiko.SSHClient] = []

    def result(rc: int | None, out: str = "", err: str = "", error: str = "") -> HostResult:
        return HostResult(
            target.name,
            target.address,
            rc,
            out,
            err,
            error,
            time.monotonic() - start,
            ", ".join(accepted),
        )

    try:
        sock = None
        if opts.jump is not None:
            jump = _connect(opts.jump, opts, accepted)
            clients.append(jump)
            transport = jump.get_transport()
            assert transport is not None
            sock = transport.open_channel(
                "direct-tcpip",
                (target.address, target.port),
                ("127.0.0.1", 0),
                timeout=opts.connect_timeout,
            )
        client = _connect(target, opts, accepted, sock)
        clients.append(client)
        _, stdout, stderr = client.exec_command(command, timeout=opts.command_timeout)
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        return result(stdout.channel.recv_exit_status(), out, err)
    except UnknownHostKeyError as exc:
        return result(
            None,
            error=f"host key not in {opts.known_hosts}: {exc.key_type} "
            f"{exc.fingerprint}; verify it out of band, then add it (ssh-keyscan -t "
            f"{exc.key_type} {target.address} >> {opts.known_hosts}) or re-run with "
            "--accept-new",
        )
    except paramiko.BadHostKeyException as exc:
        return result(
            None,
            error=f"HOST KEY CHANGED for {target.address}: got "
            f"{fingerprint(exc.key)}, known_hosts has "
            f"{fingerprint(exc.expected_key)}; refusing (a reinstalled node, or "
            "someone in the middle)",
        )
    except paramiko.AuthenticationException:
        return result(None, error=f"authentication failed as {opts.user}")
    except paramiko.ssh_exception.NoValidConnectionsError:
        return result(None, error=f"unreachable: connection refused on port {target.port}")
    except TimeoutError:
        return result(None, error=f"timed out after {opts.command_timeout:g} s")
    except (OSError, paramiko.SSHException, EOFError) as exc:
        return result(None, error=f"unreachable: {exc or type(exc).__name__}")
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
    """Run `command` on every target, at most `opts.forks` at a time; natural host order."""
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


def group_results(results: list[HostResult]) -> list[Group]:
    """Fold identical results together; errors and exit codes keep groups apart."""
    buckets: dict[tuple[int | None, str, str], list[str]] = {}
    for r in results:
        buckets.setdefault((r.rc, r.stdout + r.stderr, r.error), []).append(r.host)
    groups = [
        Group(compress_hostlist(hosts), len(hosts), rc, out, err)
        for (rc, out, err), hosts in buckets.items()
    ]
    return sorted(
        groups, key=lambda g: (g.error != "", g.rc not in (0, None), -g.count, natural_key(g.hosts))
    )
