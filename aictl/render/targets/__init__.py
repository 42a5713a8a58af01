"""Render targets: name -> function(topology) -> artifacts, each under its own top directory."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aictl.render.targets.accept import render_accept
from aictl.render.targets.health import render_health
from aictl.render.targets.hosts import render_hosts
from aictl.render.targets.infiniband import render_ib
from aictl.render.targets.inventory import render_inventory
from aictl.render.targets.kubernetes import render_k8s
from aictl.render.targets.switches import render_switches

if TYPE_CHECKING:
    from aictl.artifact import Artifact
    from aictl.topology.model import Topology

Target = Callable[["Topology"], "list[Artifact]"]

# name -> (top directories, renderer); the order is the render order
TARGETS: dict[str, tuple[tuple[str, ...], Target]] = {
    "hosts": (("hosts/", "profiles/"), render_hosts),
    "switches": (("switches/",), render_switches),
    "ib": (("ib/",), render_ib),
    "k8s": (("k8s/",), render_k8s),
    "inventory": (("inventory/",), render_inventory),
    "accept": (("accept/",), render_accept),
    # the node profile and the wrapper go under profiles/ with the hosts target's files
    "health": (("health/",), render_health),
}
