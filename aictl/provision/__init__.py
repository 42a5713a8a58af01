"""Stage 4: provision nodes with the playbooks, through ansible-runner.

`provision` builds a private data dir under build/<cluster>/runner (inventory, env with an
ansible.cfg that checks host keys strictly, every event kept under artifacts/), runs
playbooks/site.yml, streams progress through a callback, and returns per-host counts as data.
This is the only module that imports ansible_runner.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aictl.events import Progress
from aictl.paths import data_root
from aictl.status import Status

if TYPE_CHECKING:
    from collections.abc import Callable

RECAP_KEYS = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")


@dataclass(frozen=True, slots=True)
class ProvisionOptions:
    """What to run and how."""

    playbook: str = "site.yml"
    check: bool = False
    diff: bool = False
    limit: str | None = None
    tags: str | None = None
    forks: int = 32
    extravars: dict[str, Any] = field(default_factory=dict)
    key: Path | None = None
    known_hosts: Path | None = None
    user: str = "root"


@dataclass(frozen=True, slots=True)
class ProvisionResult:
    """The run's status, per-host recap counts and where its events are kept."""

    status: str
    rc: int
    hosts: dict[str, dict[str, int]]
    artifacts: str

    @property
    def failed_hosts(self) -> list[str]:
        return sorted(h for h, c in self.hosts.items() if c.get("failures") or c.get("dark"))

    @property
    def unreachable_hosts(self) -> list[str]:
        return sorted(h for h, c in self.hosts.items() if c.get("dark"))


def _ansible_cfg(opts: ProvisionOptions, data_dir: Path) -> str:
    # absolute: ansible-playbook runs in the runner's private data dir, not the caller's cwd
    known = f"-o UserKnownHostsFile={opts.known_hosts.resolve()}" if opts.known_hosts else ""
    key = f"private_key_file = {opts.key.resolve()}\n" if opts.key else ""
    return (
        "[defaults]\nhost_key_checking = True\ninterpreter_python = auto_silent\n"
        f"remote_user = {opts.user}\n{key}forks = {opts.forks}\nretry_files_enabled = False\n"
        f"local_tmp = {data_dir / 'tmp'}\nroles_path = {data_root('playbooks') / 'roles'}\n"
        # the plays need root: another user reaches it with sudo
        + ("" if opts.user == "root" else "[privilege_escalation]\nbecome = True\n")
        + "[ssh_connection]\npipelining = True\n"
        f"control_path_dir = {data_dir / 'cp'}\n"
        f"ssh_args = -o ControlMaster=auto -o ControlPersist=60s {known} "
        "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes\n"
    )


_HOST_EVENTS = {
    "runner_on_ok": Status.OK,
    "runner_on_failed": Status.FAIL,
    "runner_on_unreachable": Status.ERROR,
    "runner_on_skipped": Status.SKIP,
}


def progress_of(event: dict[str, Any]) -> Progress | None:
    """An ansible-runner event as a progress event (None for the ones nobody shows)."""
    kind = event.get("event", "")
    data = event.get("event_data") or {}
    if kind == "playbook_on_play_start":
        return Progress("provision", "play", str(data.get("play", "")))
    if kind == "playbook_on_task_start":
        return Progress("provision", "task", str(data.get("task", "")))
    if kind in _HOST_EVENTS:
        res = data.get("res") or {}
        status = _HOST_EVENTS[kind]
        changed = status is Status.OK and bool(res.get("changed"))
        msg = "" if status is Status.OK else str(res.get("msg", ""))[:200]
        return Progress(
            "provision",
            "host",
            str(data.get("host", "")),
            status=status,
            message=msg,
            value="changed" if changed else "",
        )
    return None


def provision(
    inventory: Path,
    build: Path,
    opts: ProvisionOptions,
    *,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> ProvisionResult:
    """Run a playbook against the inventory; never raises for host failures (they are data).

    Args:
        inventory: the inventory directory aictl rendered.
        build: build/<cluster>; the runner's private data dir is build/<cluster>/runner.
        opts: playbook, check/diff/limit/tags/forks, extra vars, SSH key and known_hosts.
        on_event: called with every ansible-runner event.
        progress: called with the events worth showing, as progress events.
    """
    from aictl import buildlock, fsio
    from aictl.errors import ExitCode

    handler = on_event
    if progress is not None:

        def handler(e: dict[str, Any]) -> None:
            if on_event is not None:
                on_event(e)
            shown = progress_of(e)
            if shown is not None:
                progress(shown)

    stage = ExitCode.PROVISION
    with buildlock.hold(build, stage=stage):
        data_dir = (build / "runner").resolve()
        for sub in ("env", "tmp", "cp"):
            fsio.make_dir(build, f"runner/{sub}", stage=stage)
        cfg = data_dir / "env" / "ansible.cfg"
        fsio.write_file(
            build, "runner/env/ansible.cfg", _ansible_cfg(opts, data_dir).encode(), stage=stage
        )
        fsio.write_file(
            build, "runner/env/envvars", json.dumps(_our_env(cfg, data_dir)).encode(), stage=stage
        )
        return _provision(data_dir, inventory, opts, handler)


def _our_env(cfg: Path, data_dir: Path) -> dict[str, str]:
    """The variables aictl sets for ansible-playbook (docs/provision.md)."""
    return {
        # the ansible-playbook installed beside this Python first (a venv need not be on PATH)
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "ANSIBLE_CONFIG": str(cfg),
        "ANSIBLE_HOME": str(data_dir / "ansible-home"),
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_NOCOLOR": "True",
        "LANG": os.environ.get("LANG") or "C.UTF-8",
    }


def _provision(
    data_dir: Path,
    inventory: Path,
    opts: ProvisionOptions,
    on_event: Callable[[dict[str, Any]], None] | None,
) -> ProvisionResult:
    cmdline = []
    if opts.check:
        cmdline.append("--check")
    if opts.diff:
        cmdline.append("--diff")
    if opts.tags:
        cmdline += ["--tags", opts.tags]
    playbook = data_root("playbooks") / opts.playbook
    # ansible-runner merges a leftover env/extravars into the next run: a one-off -e would
    # stick, and a secret passed with -e would stay in the build dir; neither may happen
    stale = data_dir / "env" / "extravars"
    stale.unlink(missing_ok=True)
    try:
        r = _run(data_dir, playbook, inventory, opts, cmdline, on_event)
    finally:
        stale.unlink(missing_ok=True)
    stats: dict[str, dict[str, int]] = r.stats or {}
    hosts: dict[str, dict[str, int]] = {}
    for key in RECAP_KEYS:
        for host, n in (stats.get(key) or {}).items():
            hosts.setdefault(host, dict.fromkeys(RECAP_KEYS, 0))[key] = int(n)
    return ProvisionResult(
        status=str(r.status),
        rc=int(r.rc or 0),
        hosts=hosts,
        artifacts=str(Path(r.config.artifact_dir)),
    )


# what ansible-playbook gets of the caller's environment (docs/provision.md); the runner
# stores its environment in artifacts/<id>/command, so nothing else may reach it
PASSED_ENV = ("HOME", "USER", "LOGNAME", "LC_ALL", "LC_CTYPE", "SSH_AUTH_SOCK", "TZ")


def runner_env(env: dict[str, str], caller: dict[str, str], ours: dict[str, str]) -> dict[str, str]:
    """`env` (what ansible-runner prepared) without the caller's variables: only those aictl
    sets (`ours`), those the runner sets or changes, and PASSED_ENV stay."""
    return {k: v for k, v in env.items() if k in ours or k in PASSED_ENV or caller.get(k) != v}


def _run(
    data_dir: Path,
    playbook: Path,
    inventory: Path,
    opts: ProvisionOptions,
    cmdline: list[str],
    on_event: Callable[[dict[str, Any]], None] | None,
) -> Any:
    from ansible_runner.interface import init_runner

    r = init_runner(
        private_data_dir=str(data_dir),
        project_dir=str(playbook.parent),
        playbook=playbook.name,
        inventory=str(inventory.resolve()),
        extravars=opts.extravars,
        limit=opts.limit,
        forks=opts.forks,
        cmdline=" ".join(cmdline) or None,
        quiet=True,
        event_handler=(lambda e: (on_event(e), True)[1]) if on_event else None,
        rotate_artifacts=10,
    )
    ours = _our_env(data_dir / "env" / "ansible.cfg", data_dir)
    r.config.env = runner_env(r.config.env, dict(os.environ), ours)
    r.run()
    return r
