"""Nothing of the caller's environment is stored under the build directory by a provisioning
run: a canary variable is planted, a real ansible-playbook runs through aictl's provision()
against localhost (connection=local, facts gathered, `env` run as a task), and every file
under the build directory is searched for it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from aictl.provision import PASSED_ENV, ProvisionOptions, provision, runner_env
from tests.conftest import require_tools

pytestmark = pytest.mark.slow

CANARY = "aictl-canary-7f3a9c1e"

PLAYBOOK = """\
- name: show what a task's environment holds
  hosts: all
  gather_facts: true
  tasks:
    - name: the environment of a task
      ansible.builtin.command: env
      changed_when: false
    - name: the canary as ansible sees it
      ansible.builtin.debug:
        msg: "canary={{ lookup('env', 'AICTL_CANARY_SECRET') | default('absent', true) }}"
"""


def test_runner_env_keeps_only_what_aictl_sets_and_the_documented_few() -> None:
    caller = {"PATH": "/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "x", "ANSIBLE_FOO": "y"}
    prepared = {
        **caller,
        "PATH": "/venv/bin:/bin",
        "ANSIBLE_CONFIG": "/b/runner/env/ansible.cfg",
        "ANSIBLE_STDOUT_CALLBACK": "awx_display",
    }
    ours = {"PATH": "/venv/bin:/bin", "ANSIBLE_CONFIG": "/b/runner/env/ansible.cfg"}
    assert runner_env(prepared, caller, ours) == {
        "PATH": "/venv/bin:/bin",
        "HOME": "/root",
        "ANSIBLE_CONFIG": "/b/runner/env/ansible.cfg",
        "ANSIBLE_STDOUT_CALLBACK": "awx_display",
    }
    assert "HOME" in PASSED_ENV


def test_a_canary_in_the_callers_environment_is_nowhere_in_the_build_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tools(str(Path(sys.executable).parent / "ansible-playbook"))
    monkeypatch.setenv("AICTL_CANARY_SECRET", CANARY)
    build = tmp_path / "build"
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
    )
    playbook = tmp_path / "env.yml"
    playbook.write_text(PLAYBOOK)
    result = provision(inventory, build, ProvisionOptions(playbook=str(playbook), forks=1))
    assert (result.status, result.rc) == ("successful", 0), result
    artifacts = Path(result.artifacts)
    command = json.loads((artifacts / "command").read_text())
    assert command["env"]["ANSIBLE_CONFIG"].endswith("runner/env/ansible.cfg")
    assert "AICTL_CANARY_SECRET" not in command["env"]
    events = "".join(p.read_text() for p in (artifacts / "job_events").glob("*.json"))
    assert "canary=absent" in events and "ANSIBLE_CONFIG=" in events  # the tasks ran
    assert list((artifacts / "fact_cache").iterdir())  # facts were stored
    leaks = [
        str(p.relative_to(build))
        for p in build.rglob("*")
        if p.is_file() and CANARY.encode() in p.read_bytes()
    ]
    assert leaks == []
