"""The pinned versions: one file for the plays (playbooks/vars/versions.yml, with the date they
were checked), the lab's simulated stack at those pins, and docs/versions.md naming each."""

from __future__ import annotations

import re
from typing import Any, get_args

import yaml

from aictl.lab.accelerators import AMDGPU, ASCEND_DRIVER, CANN, ROCM
from aictl.lab.hardware import DRIVER, OFED
from aictl.spec.loader import load_preset, preset_names
from aictl.spec.models import Kubernetes
from aictl.spec.releases import NETWORK_OPERATOR_LINES, NetworkOperatorRelease, gpu_generation
from tests.conftest import ROOT


def _versions() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "playbooks" / "vars" / "versions.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_versions_say_when_they_were_checked() -> None:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", _versions()["versions_checked"])


def test_the_lab_runs_the_pinned_stack() -> None:
    v = _versions()
    assert v["mofed_stack"] == "doca"
    assert f"OFED-internal-{v['mofed_doca_ofed_version']}" == OFED
    generation = gpu_generation(load_preset("lab-small").spec.node_profiles["hgx-a800"].gpu.model)
    assert DRIVER.startswith(v["gpu_driver_branches"][generation] + ".")


def test_every_preset_gpu_has_a_driver_branch() -> None:
    """NVIDIA GPUs need a driver branch; AMD and Ascend nodes the ROCm and CANN pins."""
    v = _versions()
    stack = {"amd": ("rocm_version", "rocm_amdgpu_version"), "huawei": ("ascend_cann_version",)}
    for name in preset_names():
        for prof in load_preset(name).spec.node_profiles.values():
            if prof.gpu.vendor == "nvidia":
                assert gpu_generation(prof.gpu.model) in v["gpu_driver_branches"], name
            else:
                assert all(v[k] for k in stack[prof.gpu.vendor]), (name, prof.gpu.vendor)


def test_the_lab_runs_the_pinned_rocm_and_ascend_stacks() -> None:
    v = _versions()
    assert (v["rocm_version"], v["rocm_amdgpu_version"]) == (ROCM, AMDGPU)
    assert (v["ascend_driver_version"], v["ascend_cann_version"]) == (ASCEND_DRIVER, CANN)


def test_network_operator_default_is_the_current_line() -> None:
    default = Kubernetes().network_operator
    current = next(line for line, status in NETWORK_OPERATOR_LINES.items() if status == "current")
    assert default.startswith(current + ".")
    assert default == max(
        (r for r in get_args(NetworkOperatorRelease) if r.startswith(current + ".")),
        key=lambda r: tuple(map(int, r.split("."))),
    )


def test_docs_name_every_pin() -> None:
    doc = (ROOT / "docs" / "versions.md").read_text()
    v = _versions()
    for key in (
        "mofed_doca_version",
        "mofed_doca_ofed_version",
        "mofed_version",
        "rocm_version",
        "rocm_amdgpu_version",
        "ascend_driver_version",
        "ascend_cann_version",
    ):
        assert f"`{v[key]}`" in doc, key
    for branch in set(v["gpu_driver_branches"].values()):
        assert f"R{branch}" in doc
    k = Kubernetes()
    for pin in (k.network_operator, k.whereabouts_version, k.multus_version, v["versions_checked"]):
        assert pin in doc, pin
    assert "docs/versions.md" in (ROOT / "README.md").read_text()


def test_the_benchmark_images_are_built_for_the_pinned_stacks() -> None:
    """The MPIJobs' default images name the ROCm and CANN releases the nodes are pinned to."""
    v, k = _versions(), Kubernetes()
    assert k.rccl_tests_image.endswith(f":rocm-{v['rocm_version']}")
    assert k.hccl_tests_image.endswith(f":cann-{v['ascend_cann_version'].lower()}")
