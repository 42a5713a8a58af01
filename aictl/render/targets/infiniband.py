"""Render target `ib`: the InfiniBand subnet manager (opensm.conf, partitions.conf) and the
same partitions as UFM REST request bodies, ready to send."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aictl.artifact import Artifact
from aictl.errors import RenderError
from aictl.render.env import render
from aictl.topology.exports import ibnet

if TYPE_CHECKING:
    from aictl.topology.model import Topology

ETC = "/etc/opensm"
MTU_4K = 5  # IBTA MTU enum: 4 = 2048, 5 = 4096


def _members(
    topo: Topology,
    members: list[str] | str,
    membership: str,
    guids: dict[str, str] | None,
    where: str,
) -> tuple[str, list[str]]:
    if members == "all":
        return f"ALL_CAS={membership}", sorted(guids.values()) if guids else []
    if guids is None:
        raise RenderError(
            f"{where} lists hosts, but port GUIDs are only known once discovered",
            hint="set subnet_manager.guids: planned (lab twin), or members: all",
            field="subnet_manager.guids",
        )
    picked = [guids[f"{h} {dev}"] for h in members for dev in _devices(topo, h)]
    return ", ".join(f"0x{g}={membership}" for g in picked), picked


def _devices(topo: Topology, host: str) -> tuple[str, ...]:
    return topo.profile(host).rdma_devices


def render_ib(topo: Topology) -> list[Artifact]:
    """ib/opensm.conf, ib/partitions.conf, GUID files (planned GUIDs) and ib/ufm/*.json, for
    the plan's InfiniBand fabric (nothing when every fabric is RoCE)."""
    if topo.ib_fabric is None:
        return []
    sm = topo.spec.subnet_manager
    planned = sm.guids == "planned"
    guids = ibnet.port_guids(topo) if planned else None
    parts: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    for i, p in enumerate(sm.partitions):
        members, listed = _members(
            topo, p.members, p.membership, guids, f"subnet_manager.partitions[{i}]"
        )
        pkey = f"0x{p.pkey:04x}"
        note = "every HCA" if p.members == "all" else f"{len(p.members)} host(s)"
        parts.append(
            {
                "name": p.name,
                "pkey": pkey,
                "ipoib": p.ipoib,
                "membership": p.membership,
                "members": members,
                "note": note,
            }
        )
        requests.append(
            {
                "method": "POST",
                "path": "/ufmRest/resources/pkeys/add",
                "body": {
                    "pkey": pkey,
                    "partition_name": p.name,
                    "index0": False,
                    "ip_over_ib": p.ipoib,
                    "mtu_limit": MTU_4K,
                    "service_level": 0,
                },
            }
        )
        if listed:
            requests.append(
                {
                    "method": "POST",
                    "path": "/ufmRest/resources/pkeys/",
                    "body": {
                        "pkey": pkey,
                        "guids": listed,
                        "index0": False,
                        "ip_over_ib": p.ipoib,
                        "membership": p.membership,
                    },
                }
            )
    ctx = {
        "cluster": topo.name,
        "routing_engine": sm.routing_engine,
        "lmc": sm.lmc,
        "sm_priority": sm.sm_priority,
        "etc": ETC,
        "guids": planned,
        "partitions": parts,
    }
    out = [
        Artifact("ib/opensm.conf", render("ib/opensm.conf.j2", **ctx).encode()),
        Artifact("ib/partitions.conf", render("ib/partitions.conf.j2", **ctx).encode()),
        Artifact(
            "ib/ufm/requests.json",
            (
                json.dumps(
                    {
                        "note": "send in order, e.g. curl -k -u USER -X POST "
                        "https://<ufm>/<path> -H 'Content-Type: application/json' -d @body",
                        "requests": requests,
                    },
                    indent=2,
                    sort_keys=True,
                )
                + "\n"
            ).encode(),
        ),
    ]
    if planned:
        files = ibnet.render_all(topo)
        out.append(Artifact("ib/root-guids.conf", files["ftree-roots.guids"].encode()))
        out.append(Artifact("ib/cn-guids.conf", files["ftree-cns.guids"].encode()))
    return out
