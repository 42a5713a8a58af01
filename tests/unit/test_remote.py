"""SSH results say what went wrong (a ResultKind, not message wording), known_hosts is read
strictly (malformed, non-UTF-8, @revoked), --accept-new works on a fresh machine with no
~/.ssh, and bad --jump/--key are usage errors. Against a paramiko server in a thread."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import paramiko
import pytest
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.errors import ExitCode, KnownHostsError, UsageError
from aictl.remote import (
    HostResult,
    ResultKind,
    SshOptions,
    Target,
    group_results,
    load_known_hosts,
    run_all,
    run_one,
)
from aictl.target import parse_jump
from tests.sshserver import Server, ssh_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with ssh_server(tmp_path) as s:
        yield s


def opts(server: Server, known: Path, **kw: object) -> SshOptions:
    base = SshOptions(
        key=server.client_key_file, known_hosts=known, connect_timeout=5, command_timeout=5
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def target(server: Server) -> Target:
    return Target("n1", "127.0.0.1", server.port)


def test_ok_and_command_failed(server: Server, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(server.known_line())
    ok = run_one(target(server), "hostname", opts(server, known))
    assert (ok.rc, ok.stdout, ok.kind, ok.ok) == (0, "ran hostname\n", ResultKind.OK, True)
    bad = run_one(target(server), "exit 3", opts(server, known))
    assert (bad.rc, bad.kind, bad.error) == (3, ResultKind.COMMAND_FAILED, "")
    assert bad.as_dict()["kind"] == "command-failed"


def test_a_command_past_its_timeout_is_timeout(server: Server, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(server.known_line())
    r = run_one(target(server), "hang", opts(server, known, command_timeout=1))
    assert r.kind is ResultKind.TIMEOUT and r.rc is None and "timed out after 1 s" in r.error


def test_unknown_and_changed_keys_are_host_key_refused(server: Server, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    r = run_one(target(server), "true", opts(server, known))
    assert r.kind is ResultKind.HOST_KEY_REFUSED
    assert "host key not in" in r.error and "(the file does not exist)" in r.error
    known.write_text(server.known_line(paramiko.ECDSAKey.generate()))
    r = run_one(target(server), "true", opts(server, known))
    assert r.kind is ResultKind.HOST_KEY_REFUSED and "HOST KEY CHANGED" in r.error


def test_a_wrong_key_is_auth_failed_and_a_closed_port_unreachable(
    server: Server, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(server.known_line())
    other = tmp_path / "other"
    paramiko.ECDSAKey.generate().write_private_key_file(str(other))
    r = run_one(target(server), "true", opts(server, known, key=other))
    assert r.kind is ResultKind.AUTH_FAILED and r.error == "authentication failed as root"
    r = run_one(target(server), "true", opts(server, known, key=tmp_path / "absent"))
    assert r.kind is ResultKind.AUTH_FAILED and "not found" in r.error
    closed = Target("n2", "127.0.0.1", 1)
    r = run_one(closed, "true", opts(server, known))
    assert r.kind is ResultKind.UNREACHABLE and r.error.startswith("unreachable")


def test_accept_new_on_a_fresh_machine_creates_known_hosts(server: Server, tmp_path: Path) -> None:
    ssh = tmp_path / "home" / ".ssh"
    known = ssh / "known_hosts"
    (r,) = run_all([target(server)], "true", opts(server, known, accept_new=True))
    assert r.ok and r.accepted_key.startswith("ecdsa-sha2-nistp256 SHA256:")
    assert ssh.stat().st_mode & 0o777 == 0o700
    assert known.stat().st_mode & 0o777 == 0o600
    assert known.read_text() == server.known_line()
    again = run_one(target(server), "true", opts(server, known))  # strict now
    assert again.ok and not again.accepted_key


@pytest.mark.parametrize("also_trusted", [False, True])
def test_a_revoked_key_is_refused_even_with_accept_new(
    server: Server, tmp_path: Path, also_trusted: bool
) -> None:
    known = tmp_path / "known_hosts"
    k = server.host_key
    text = f"@revoked * {k.get_name()} {k.get_base64()}\n"
    if also_trusted:
        text += server.known_line()
    known.write_text(text)
    r = run_one(target(server), "true", opts(server, known, accept_new=True))
    assert r.kind is ResultKind.HOST_KEY_REFUSED and r.error.startswith("REVOKED host key")
    assert known.read_text() == text  # nothing recorded


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"only-a-host\n", ":2: expected hosts, key type and key"),
        (b"host ssh-ed25519 !!!notbase64\n", ":2: the key is not base64"),
        (b"host ssh-ed25519 AAAA\xff\xfe\n", ":2: not UTF-8 text"),
        (b"@bogus host ssh-ed25519 AAAA\n", ":2: unknown marker '@bogus'"),
        (b"host ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n", ":2: not a valid ssh-ed25519 key"),
    ],
)
def test_a_bad_known_hosts_line_is_a_remote_error_naming_file_and_line(
    tmp_path: Path, content: bytes, words: str
) -> None:
    known = tmp_path / "known_hosts"
    known.write_bytes(b"# a comment\n" + content)
    with pytest.raises(KnownHostsError) as err:
        run_all([Target("n", "127.0.0.1", 1)], "true", SshOptions(known_hosts=known))
    assert err.value.exit_code == ExitCode.REMOTE
    assert err.value.message == f"{known}{words}"
    assert "fix or delete that line" in err.value.hint


def test_unusable_key_types_and_cert_authorities_are_skipped(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    key = paramiko.ECDSAKey.generate()
    known.write_text(
        "h sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t\n"
        f"@cert-authority *.example {key.get_name()} {key.get_base64()}\n"
    )
    assert load_known_hosts(known).entries == ()


def test_kind_is_derived_for_callers_that_build_results() -> None:
    assert HostResult("h", "a", 0).kind is ResultKind.OK
    assert HostResult("h", "a", 2).kind is ResultKind.COMMAND_FAILED
    assert HostResult("h", "a", None, error="x").kind is ResultKind.UNREACHABLE
    groups = group_results(
        [HostResult("h1", "a", 0), HostResult("h2", "a", None, error="e", kind=ResultKind.TIMEOUT)]
    )
    assert [g.kind for g in groups] == [ResultKind.OK, ResultKind.TIMEOUT]


@pytest.mark.parametrize(
    "text", ["host:notaport", "host:0", "host:70000", "-oProxyCommand=x", "a b", ""]
)
def test_a_bad_jump_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="is not host"):
        parse_jump(text)


def test_jump_forms() -> None:
    assert parse_jump("bastion") == Target("bastion", "bastion", 22)
    assert parse_jump("10.0.0.1:2222") == Target("10.0.0.1", "10.0.0.1", 2222)
    assert parse_jump("[fd00::1]:22") == Target("fd00::1", "fd00::1", 22)


def test_cli_exit_codes_for_ssh_problems(tmp_path: Path) -> None:
    base = ["exec", "true", "--preset", "lab-small", "--out", str(tmp_path / "b")]
    r = CliRunner().invoke(app, [*base, "--jump", "host:notaport"])
    assert r.exit_code == ExitCode.USAGE and "error[USAGE] --jump 'host:notaport'" in r.stderr
    r = CliRunner().invoke(app, [*base, "--key", str(tmp_path / "absent")])
    assert r.exit_code == ExitCode.USAGE and "no such file" in r.stderr
    bad = tmp_path / "known_hosts"
    bad.write_bytes(b"\xff\n")
    r = CliRunner().invoke(app, [*base, "--known-hosts", str(bad)])
    assert r.exit_code == ExitCode.REMOTE
    assert r.stderr.splitlines()[0] == f"error[REMOTE] {bad}:1: not UTF-8 text"
    assert "Traceback" not in r.output


def test_exec_json_carries_the_kind(server: Server, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    results = run_all([target(server)], "exit 1", opts(server, known))
    assert [r.as_dict()["kind"] for r in results] == ["host-key-refused"]
    assert json.loads(json.dumps(results[0].as_dict()))["rc"] is None
    assert os.path.exists(known) is False
