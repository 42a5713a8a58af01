"""Kubernetes checks: custom resources against CRDs, embedded JSON against schemas, and names
and labels (those rendered and those the operators derive from them) against Kubernetes' rules."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

from aictl.render.validate import Finding
from aictl.render.validate.schemas import CNI_BY_TYPE, RDMA_SHARED_CONFIG

if TYPE_CHECKING:
    from aictl.artifact import Artifact

# the topology-aware scheduler objects (aictl/render/targets/scheduler.py)
SCHEDULER_DIR = "k8s/scheduler/"


def _docs(art: Artifact) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(art.data.decode()) if isinstance(d, dict)]


def _manifests(artifacts: list[Artifact]) -> list[Artifact]:
    return [
        a
        for a in artifacts
        if a.path.startswith(("k8s/", "health/k8s/"))
        and a.path.endswith(".yaml")
        and not a.path.endswith("/kustomization.yaml")
    ]


def _errors(schema: dict[str, Any], data: Any) -> list[str]:
    v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(v.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _json(text: str, path: str, check: str) -> tuple[Any, Finding | None]:
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, Finding(path, check, "error", f"not JSON: {exc}")


def check_embedded(
    artifacts: list[Artifact], rdma_schema: dict[str, Any] | None = None
) -> list[Finding]:
    """CNI configs of NADs and device-plugin configs of NicCluster/NodePolicies."""
    out: list[Finding] = []
    for art in _manifests(artifacts):
        for doc in _docs(art):
            kind = doc.get("kind")
            name = (doc.get("metadata") or {}).get("name", "?")
            if kind == "NetworkAttachmentDefinition":
                check = f"CNI config of {name}"
                conf, bad = _json(doc["spec"]["config"], art.path, check)
                if bad:
                    out.append(bad)
                    continue
                schema = CNI_BY_TYPE.get(conf.get("type"))
                errs = _errors(schema, conf) if schema else [f"unknown CNI type {conf.get('type')}"]
                out.append(Finding(art.path, check, "error" if errs else "ok", "; ".join(errs)))
            if kind in ("NicClusterPolicy", "NicNodePolicy"):
                plugin = (doc.get("spec") or {}).get("rdmaSharedDevicePlugin")
                if not plugin:
                    continue
                check = f"rdmaSharedDevicePlugin.config of {kind}/{name}"
                conf, bad = _json(plugin["config"], art.path, check)
                if bad:
                    out.append(bad)
                    continue
                errs = _errors(RDMA_SHARED_CONFIG, conf)
                if rdma_schema is not None:
                    errs += [f"upstream schema: {e}" for e in _errors(rdma_schema, conf)]
                out.append(Finding(art.path, check, "error" if errs else "ok", "; ".join(errs)))
    return out


def _k8s_to_jsonschema(node: Any) -> Any:
    """OpenAPI v3 (Kubernetes flavour) -> JSON Schema, strict on unknown fields like
    `kubectl apply --validate=strict`."""
    if isinstance(node, list):
        return [_k8s_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: (v if k in ("enum", "default", "example") else _k8s_to_jsonschema(v))
        for k, v in node.items()
    }
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    if out.pop("nullable", False) and "type" in out:
        t = out["type"]
        out["type"] = [*(t if isinstance(t, list) else [t]), "null"]
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def load_crds(crds_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> JSON Schema, for every CRD in YAML files under `crds_dir`."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(crds_dir.rglob("*.yaml")) + sorted(crds_dir.rglob("*.yml")):
        try:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            docs = list(yaml.load_all(path.read_text(), Loader=loader))
        except yaml.YAMLError:
            continue
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for ver in doc["spec"]["versions"]:
                schema = (ver.get("schema") or {}).get("openAPIV3Schema")
                if schema is None:
                    continue
                js = _k8s_to_jsonschema(copy.deepcopy(schema))
                for key in ("apiVersion", "kind", "metadata"):
                    js.setdefault("properties", {}).setdefault(key, {})
                found[(f"{group}/{ver['name']}", kind)] = js
    return found


def check_crds(artifacts: list[Artifact], crds_dir: Path) -> list[Finding]:
    """Every custom resource rendered, against the matching CRD in `crds_dir`."""
    crds = load_crds(crds_dir)
    rdma = next((p for p in crds_dir.rglob("rdma_shared_device_plugin.json")), None)
    out: list[Finding] = []
    for art in _manifests(artifacts):
        for doc in _docs(art):
            key = (str(doc.get("apiVersion")), str(doc.get("kind")))
            name = (doc.get("metadata") or {}).get("name", "?")
            check = f"{key[1]}/{name} against its CRD"
            if key not in crds:
                # a scheduler's objects are checked only where its CRDs were given: a cluster
                # runs one scheduler, and applies only that one's files
                optional = art.path.startswith(SCHEDULER_DIR)
                out.append(
                    Finding(
                        art.path,
                        check,
                        "skipped" if optional else "error",
                        f"no CRD for {key[0]} {key[1]} in {crds_dir}",
                    )
                )
                continue
            errs = _errors(crds[key], doc)
            out.append(Finding(art.path, check, "error" if errs else "ok", "; ".join(errs)))
    if rdma is not None:
        schema = json.loads(Path(rdma).read_text())
        out += [f for f in check_embedded(artifacts, schema) if "rdmaShared" in f.check]
    return out


# Kubernetes' name rules (apimachinery IsDNS1123Subdomain, IsDNS1123Label, IsValidLabelValue)
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
_LABEL = re.compile(rf"^{_DNS_LABEL}$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _name_problems(name: str, *, label: bool) -> list[str]:
    limit, pattern = (63, _LABEL) if label else (253, _SUBDOMAIN)
    out = [f"{len(name)} characters, more than {limit}"] if len(name) > limit else []
    if not pattern.match(name):
        out.append("not lower-case letters, digits and '-'" + ("" if label else " and '.'"))
    return out


def _value_problems(value: str) -> list[str]:
    out = [f"{len(value)} characters, more than 63"] if len(value) > 63 else []
    if not _LABEL_VALUE.match(value):
        out.append("not a label value (letters, digits, '-', '_', '.')")
    return out


def _derived(doc: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(what, value, is a DNS label) for what the operators create from this resource."""
    name = str((doc.get("metadata") or {}).get("name", ""))
    spec = doc.get("spec") or {}
    if doc.get("kind") == "NicNodePolicy" and spec.get("rdmaSharedDevicePlugin"):
        # network-operator pkg/state/state_skel.go (nameSuffix, dsOwnerValue) and
        # manifests/state-rdma-shared-device-plugin: the plugin's DaemonSet and its pods
        return [
            ("label app of the RDMA plugin's pods", f"rdma-shared-dp-{name}", False),
            ("label ds-owner of the RDMA plugin's pods", f"nnp-{name}", False),
        ]
    if doc.get("kind") == "MPIJob":
        # mpi-operator's validation: the last worker's hostname must be a DNS label
        worker = (spec.get("mpiReplicaSpecs") or {}).get("Worker") or {}
        replicas = max(1, int(worker.get("replicas") or 1))
        return [("hostname of the last worker pod", f"{name}-worker-{replicas - 1}", True)]
    if doc.get("kind") == "Job" and str(doc.get("apiVersion", "")).startswith("batch.volcano.sh/"):
        # Volcano names pods <job>-<task>-<index>, and its svc plugin makes that the hostname
        return [
            (f"hostname of the last {t.get('name')} pod", f"{name}-{t.get('name')}-{n - 1}", True)
            for t in spec.get("tasks") or []
            for n in [max(1, int(t.get("replicas") or 1))]
        ]
    return []


def check_names(artifacts: list[Artifact]) -> list[Finding]:
    """Names, label values and node selectors of every rendered manifest, and the names and
    labels the network-operator and mpi-operator derive from them, against Kubernetes' limits
    (a 60-character cluster name must not break a DaemonSet the operator creates)."""
    out: list[Finding] = []
    for art in _manifests(artifacts):
        for doc in _docs(art):
            meta = doc.get("metadata") or {}
            name = str(meta.get("name", ""))
            check = f"names and labels of {doc.get('kind')}/{name}"
            errs = [f"name {name!r}: {p}" for p in _name_problems(name, label=False)]
            selector = (doc.get("spec") or {}).get("nodeSelector")
            values = {**(meta.get("labels") or {})}
            if isinstance(selector, dict) and "nodeSelectorTerms" not in selector:
                values.update(selector)
            errs += [
                f"label {k}={v!r}: {p}" for k, v in values.items() for p in _value_problems(str(v))
            ]
            for what, value, label in _derived(doc):
                problems = _name_problems(value, label=True) if label else _value_problems(value)
                errs += [f"{what} {value!r}: {p}" for p in problems]
            out.append(Finding(art.path, check, "error" if errs else "ok", "; ".join(errs)))
    return out
