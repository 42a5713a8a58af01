"""The health check's rendered files: the node profile reads back as the plan's, the shell
is valid sh, the Kubernetes objects pass the API's own schemas (kubernetes-validate, strict)
and name only labels and taints aictl sets, the slurm.conf lines are Slurm's keywords."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from aictl.render import render_all
from aictl.render.targets import health
from aictl.sched import k8s
from aictl.sched.local import NodeProfile
from aictl.spec.loader import load_preset
from aictl.topology import build_topology
from aictl.topology.exports.labels import node_labels

K8S_VERSION = "1.31"


def _files(preset: str) -> tuple[Any, dict[str, str]]:
    loaded = load_preset(preset)
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    arts = render_all(topo, targets=["hosts", "health"]).artifacts
    return topo, {a.path: a.data.decode() for a in arts}


@pytest.mark.parametrize("preset", ["lab-small", "mixed-lab", "mixed-vendor-lab"])
def test_every_group_gets_its_own_profile_and_wrapper(preset: str, tmp_path: Path) -> None:
    topo, files = _files(preset)
    groups = sorted({n.profile for n in topo.nodes})
    for g in groups:
        path = tmp_path / f"{g}.json"
        path.write_text(files[f"profiles/{g}/etc/aictl/profile.json"])
        back = NodeProfile.load(path)
        assert (back.cluster, back.group, back.profile) == (topo.name, g, topo.profiles[g])
        wrapper = files[f"profiles/{g}/usr/local/sbin/aictl-healthcheck"]
        assert subprocess.run(["sh", "-n", "-c", wrapper], check=False).returncode == 0
        assert "check --local --profile /etc/aictl/profile.json --drain" in wrapper
    assert len({files[f"profiles/{g}/etc/aictl/profile.json"] for g in groups}) == len(groups)


def test_slurm_lines_are_the_health_check_keywords() -> None:
    _, files = _files("lab-small")
    lines = [ln for ln in files["health/slurm/healthcheck.conf"].splitlines() if "=" in ln]
    assert dict(ln.split("=", 1) for ln in lines if not ln.startswith("#")) == {
        "HealthCheckProgram": "/usr/local/sbin/aictl-healthcheck",
        "HealthCheckInterval": str(health.INTERVAL),
        "HealthCheckNodeState": "ANY,CYCLE",
    }
    assert health.WINDOW > health.INTERVAL


def test_daemonset_and_rbac_pass_the_kubernetes_schemas() -> None:
    import kubernetes_validate

    topo, files = _files("lab-small")
    docs = [d for d in yaml.safe_load_all(files["health/k8s/aictl-healthcheck.yaml"]) if d]
    assert [d["kind"] for d in docs] == [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "DaemonSet",
    ]
    for d in docs:
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)
    ds = docs[-1]["spec"]["template"]["spec"]
    # it runs where aictl's labels are, and stays on a node aictl tainted
    ((key, value),) = ds["nodeSelector"].items()
    assert all(labels.get(key) == value for labels in node_labels(topo).values())
    assert ds["tolerations"] == [
        {"key": k8s.TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}
    ]
    script = ds["containers"][0]["args"][0]
    assert subprocess.run(["sh", "-n", "-c", script], check=False).returncode == 0
    assert "/usr/local/sbin/aictl-healthcheck k8s" in script
    rules = docs[2]["rules"]
    assert rules == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "patch", "update"]}
    ]


def test_a_broken_daemonset_is_refused_by_the_schemas() -> None:
    """The oracle is not a rubber stamp: a misspelt field fails it."""
    import kubernetes_validate
    from kubernetes_validate.utils import ValidationError

    _, files = _files("lab-small")
    ds = list(yaml.safe_load_all(files["health/k8s/aictl-healthcheck.yaml"]))[-1]
    ds["spec"]["template"]["spec"]["hostPid"] = True
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(ds, K8S_VERSION, strict=True)


def test_no_kubernetes_no_daemonset() -> None:
    loaded = load_preset("lab-small")
    spec = loaded.spec.model_copy(
        update={"kubernetes": loaded.spec.kubernetes.model_copy(update={"enabled": False})}
    )
    topo = build_topology(spec, spec_sha256="x")
    paths = [a.path for a in render_all(topo, targets=["health"]).artifacts]
    assert paths == ["health/slurm/healthcheck.conf"]
