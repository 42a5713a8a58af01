"""The ansible.cfg aictl writes for a run: host keys checked strictly, sudo only when needed."""

from __future__ import annotations

from pathlib import Path

from aictl.provision import ProvisionOptions, _ansible_cfg


def test_root_runs_without_become_and_checks_host_keys(tmp_path: Path) -> None:
    cfg = _ansible_cfg(ProvisionOptions(known_hosts=tmp_path / "kh", forks=7), tmp_path)
    assert "host_key_checking = True" in cfg and "StrictHostKeyChecking=yes" in cfg
    assert f"UserKnownHostsFile={tmp_path / 'kh'}" in cfg and "forks = 7" in cfg
    assert "privilege_escalation" not in cfg


def test_another_user_becomes_root(tmp_path: Path) -> None:
    cfg = _ansible_cfg(ProvisionOptions(user="ops", key=tmp_path / "id"), tmp_path)
    assert "remote_user = ops" in cfg and f"private_key_file = {tmp_path / 'id'}" in cfg
    assert "[privilege_escalation]\nbecome = True\n" in cfg
