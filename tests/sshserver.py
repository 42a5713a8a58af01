"""A small SSH server in a thread (paramiko's server side) for the remote tests: one host
key, one accepted client key, and commands with a known behaviour (`exit N`, `hang`, else
echo). No root, no sshd, no network beyond 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko


@dataclass(frozen=True)
class Server:
    """Where it listens and its keys."""

    port: int
    host_key: paramiko.PKey
    client_key_file: Path

    def known_line(self, key: paramiko.PKey | None = None) -> str:
        key = key or self.host_key
        return f"[127.0.0.1]:{self.port} {key.get_name()} {key.get_base64()}\n"


class _Handler(paramiko.ServerInterface):  # type: ignore[misc]  # paramiko is untyped
    def __init__(self, allowed: paramiko.PKey) -> None:
        self.allowed = allowed

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = username == "root" and key.asbytes() == self.allowed.asbytes()
        return int(paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED)

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return int(paramiko.OPEN_SUCCEEDED)
        return int(paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED)

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        threading.Thread(target=_run, args=(channel, command.decode()), daemon=True).start()
        return True


def _run(channel: paramiko.Channel, command: str) -> None:
    time.sleep(0.05)  # after the transport has acknowledged the exec request
    try:
        if command == "hang":
            return  # never answers: the client's command timeout fires
        if command.startswith("exit "):
            channel.sendall_stderr(b"failing\n")
            channel.send_exit_status(int(command.split()[1]))
        else:
            channel.sendall(f"ran {command}\n".encode())
            channel.send_exit_status(0)
        channel.close()
    except (OSError, EOFError, paramiko.SSHException):
        pass


@contextmanager
def ssh_server(tmp: Path) -> Iterator[Server]:
    """A server on 127.0.0.1 (a free port) until the block ends."""
    host_key = paramiko.ECDSAKey.generate()
    client_key = paramiko.ECDSAKey.generate()
    key_file = tmp / "id_ecdsa"
    client_key.write_private_key_file(str(key_file))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()
    transports: list[paramiko.Transport] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = paramiko.Transport(conn)
            t.add_server_key(host_key)
            transports.append(t)
            try:
                t.start_server(server=_Handler(client_key))
            except (paramiko.SSHException, EOFError, OSError):
                t.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Server(listener.getsockname()[1], host_key, key_file)
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for t in transports:
            t.close()
