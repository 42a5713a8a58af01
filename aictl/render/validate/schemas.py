"""JSON Schemas for the JSON strings inside the Kubernetes manifests.

The API server sees these only as strings, and no schema is published for the macvlan and
ipoib CNI configs or the whereabouts IPAM config, so they are written here from the plugins'
documented fields (macvlan NetConf, whereabouts IPAMConfig). `additionalProperties: false`
catches the classic mistakes (whereabouts' `ip_ranges` for `ipRanges`, a misspelt `master`).
"""

from __future__ import annotations

from typing import Any

_CIDR = r"^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$"
_IP = r"^(\d{1,3}\.){3}\d{1,3}$"
_ROUTE = {
    "type": "object",
    "properties": {"dst": {"type": "string"}, "gw": {"type": "string"}},
    "required": ["dst"],
    "additionalProperties": False,
}

WHEREABOUTS_RANGE: dict[str, Any] = {
    "type": "object",
    "required": ["range"],
    "properties": {
        "range": {
            "type": "string",
            "pattern": r"^(\d{1,3}\.){3}\d{1,3}(-(\d{1,3}\.){3}\d{1,3})?"
            r"/\d{1,2}$",
        },
        "range_start": {"type": "string", "pattern": _IP},
        "range_end": {"type": "string", "pattern": _IP},
        "exclude": {"type": "array", "items": {"type": "string", "pattern": _CIDR}},
    },
    "additionalProperties": False,
}

WHEREABOUTS_IPAM: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {
        "type": {"const": "whereabouts"},
        **WHEREABOUTS_RANGE["properties"],
        "ipRanges": {"type": "array", "items": WHEREABOUTS_RANGE},
        "gateway": {"type": "string", "pattern": _IP},
        "routes": {"type": "array", "items": _ROUTE},
        "network_name": {"type": "string"},
        "enable_overlapping_ranges": {"type": "boolean"},
        "node_slice_size": {"type": "string"},
        "log_file": {"type": "string"},
        "log_level": {"enum": ["debug", "verbose", "error", "panic"]},
        "configuration_path": {"type": "string"},
        "reconciler_cron_expression": {"type": "string"},
    },
    "anyOf": [{"required": ["range"]}, {"required": ["ipRanges"]}],
    "additionalProperties": False,
}

NV_IPAM: dict[str, Any] = {
    "type": "object",
    "required": ["type", "poolName"],
    "properties": {
        "type": {"const": "nv-ipam"},
        "poolName": {"type": "string", "minLength": 1},
        "poolType": {"enum": ["ippool", "cidrpool"]},
    },
    "additionalProperties": False,
}

_COMMON = {
    "cniVersion": {"enum": ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]},
    "name": {"type": "string", "minLength": 1},
    "master": {"type": "string", "minLength": 1, "maxLength": 15},
    "mtu": {"type": "integer", "minimum": 0, "maximum": 9216},
    "ipam": {"oneOf": [WHEREABOUTS_IPAM, NV_IPAM]},
}

MACVLAN: dict[str, Any] = {
    "type": "object",
    "required": ["cniVersion", "name", "type", "master", "ipam"],
    "properties": {
        **_COMMON,
        "type": {"const": "macvlan"},
        "mode": {"enum": ["", "bridge", "private", "vepa", "passthru"]},
        "mac": {"type": "string"},
        "linkInContainer": {"type": "boolean"},
    },
    "additionalProperties": False,
}

IPOIB: dict[str, Any] = {
    "type": "object",
    "required": ["cniVersion", "name", "type", "master", "ipam"],
    "properties": {**_COMMON, "type": {"const": "ipoib"}},
    "additionalProperties": False,
}

RDMA_SHARED_CONFIG: dict[str, Any] = {
    "type": "object",
    "required": ["configList"],
    "properties": {
        "periodicUpdateInterval": {"type": "integer", "minimum": 0},
        "configList": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["resourceName", "rdmaHcaMax"],
                "properties": {
                    "resourceName": {"type": "string", "pattern": r"^[A-Za-z0-9_]+$"},
                    "resourcePrefix": {"type": "string"},
                    "rdmaHcaMax": {"type": "integer", "minimum": 1},
                    "selectors": {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": False,
                        "properties": {
                            k: {"type": "array", "items": {"type": "string", "minLength": 1}}
                            for k in ("vendors", "deviceIDs", "drivers", "ifNames", "linkTypes")
                        },
                    },
                    "devices": {"type": "array", "items": {"type": "string"}},
                },
                "anyOf": [{"required": ["selectors"]}, {"required": ["devices"]}],
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}

CNI_BY_TYPE = {"macvlan": MACVLAN, "ipoib": IPOIB}
