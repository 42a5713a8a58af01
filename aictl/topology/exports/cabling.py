"""cabling.csv (one row per cable) and bom.csv (the bill of materials)."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from aictl.topology.analysis import bom

if TYPE_CHECKING:
    from aictl.topology.model import Topology

CABLING_HEADER = ("id", "tier", "a_device", "a_port", "b_device", "b_port", "speed_gbps")


def render_cabling(topo: Topology) -> str:
    """Every cable, compute fabric first, then the Ethernet, in plan order."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CABLING_HEADER)
    w.writerows(topo.cables)
    return buf.getvalue()


def render_bom(topo: Topology) -> str:
    """The bill of materials as CSV."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("category", "item", "model", "quantity", "notes"))
    for line in bom(topo):
        w.writerow((line.category, line.item, line.model, line.quantity, line.notes))
    return buf.getvalue()
