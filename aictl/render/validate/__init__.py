"""Checks of rendered files by the tools that will consume them.

`validate_rendered` runs, for what was rendered:
  * the JSON embedded in Kubernetes manifests against aictl's schemas, and the manifests'
    names and labels (and those the operators derive from them) against Kubernetes' limits
    (always);
  * every custom resource against the CRDs found in `crds_dir` (when given);
  * `netplan generate` (networkd and NetworkManager renderers) on every netplan file and
    `vtysh -C` on every FRR config (when the tools are installed; otherwise reported).
Results are data (Findings); the CLI decides what to print and which exit code to use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from aictl.artifact import Artifact


@dataclass(frozen=True, slots=True)
class Finding:
    """One check of one artifact: status is ok, error or skipped."""

    path: str
    check: str
    status: str
    message: str = ""


def validate_rendered(
    artifacts: list[Artifact],
    *,
    crds_dir: Path | None = None,
    tools: bool = True,
    sample: int | None = None,
) -> list[Finding]:
    """Validate rendered artifacts (see the module docstring).

    Args:
        artifacts: the rendered files.
        crds_dir: a directory of CRD YAML files (and JSON schemas) to validate against.
        tools: run netplan and vtysh where installed.
        sample: validate at most this many netplan files and FRR configs (None: all).
    """
    from aictl.render.validate import k8s
    from aictl.render.validate import tools as tool_checks

    findings = k8s.check_embedded(artifacts) + k8s.check_names(artifacts)
    if crds_dir is not None:
        findings += k8s.check_crds(artifacts, crds_dir)
    if tools:
        findings += tool_checks.check_netplan(artifacts, sample=sample)
        findings += tool_checks.check_frr(artifacts, sample=sample)
    return findings
