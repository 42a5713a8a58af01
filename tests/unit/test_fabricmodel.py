"""The lab's fabric model: line rates, GPUDirect, fair sharing, collectives, faults."""

from __future__ import annotations

from typing import Any

import pytest

from aictl.lab import fabricmodel as m
from aictl.lab.hardware import fabric_description
from aictl.spec.loader import load_preset
from aictl.topology import build_topology


def fab(**faults: Any) -> dict[str, Any]:
    loaded = load_preset("lab-small")
    d = fabric_description(build_topology(loaded.spec, spec_sha256=loaded.sha256))
    d["faults"] = []
    return d


def fault(
    kind: str,
    host: str,
    rail: int | None = None,
    gpu: int | None = None,
    factor: float | None = None,
    **kw: Any,
) -> dict[str, Any]:
    return {"kind": kind, "host": host, "rail": rail, "gpu": gpu, "factor": factor, **kw}


def test_perftest_reaches_line_rate_with_the_gpu_beside_the_nic() -> None:
    f = fab()
    rate = m.perftest_gbps(f, "node01", 1, 2, "node05", 1, 3, 8 * 2**20)
    assert isinstance(rate, float) and 0.95 * 200 < rate < 200
    small = m.perftest_gbps(f, "node01", 1, 2, "node05", 1, 3, 2)
    assert isinstance(small, float) and small < 1  # latency bound
    far = m.perftest_gbps(f, "node01", 1, 7, "node05", 1, 3, 8 * 2**20)
    assert isinstance(far, float) and far < 0.5 * rate


def test_faults_change_the_numbers() -> None:
    f = fab()
    f["faults"] = [fault("slow-nic", "node05", 1, factor=0.5)]
    slow = m.perftest_gbps(f, "node01", 1, None, "node05", 1, None, 8 * 2**20)
    assert isinstance(slow, float) and 90 < slow < 100
    f["faults"] = [fault("port-down", "node05", 1)]
    assert "Failed status" in str(m.perftest_gbps(f, "node01", 1, None, "node05", 1, None, 65536))
    f["faults"] = [fault("peermem-missing", "node05")]
    assert m.perftest_gbps(f, "node01", 1, 2, "node05", 1, 2, 65536) == "Couldn't allocate MR"
    assert isinstance(m.perftest_gbps(f, "node01", 1, None, "node05", 1, None, 65536), float)
    f["faults"] = [fault("pcie-degraded", "node05", gpu=2, factor=8)]
    capped = m.perftest_gbps(f, "node01", 1, 2, "node05", 1, 2, 8 * 2**20)
    assert isinstance(capped, float) and capped < 120
    f["faults"] = [fault("fabricmanager-stopped", "node05")]
    assert "system not yet initialized" in str(
        m.collective_busbw(f, ["node01", "node05"], "all_reduce")
    )


def test_fair_sharing() -> None:
    shares = m.fair_shares(
        {"a": [("x", 100.0)], "b": [("x", 100.0), ("y", 30.0)], "c": [("y", 30.0)]}
    )
    assert shares == pytest.approx({"b": 15.0, "c": 15.0, "a": 85.0})
    f = fab()
    two = {"node02:1>node06:1": m.links(f, "node02", 1, "node06", 1)}
    shared = m.perftest_gbps(f, "node01", 1, None, "node06", 1, None, 8 * 2**20, two)
    assert isinstance(shared, float) and 90 < shared < 100  # node06's port is shared


def test_swapped_cables_take_the_spines() -> None:
    f = fab()
    assert m.leaf_of(f, "node03", 0) == "leaf-su01-r0"
    swap = fault("swap-cables", "node03", 0)
    swap.update({"with": "node03", "with_rail": 1})
    f["faults"] = [swap]
    assert m.leaf_of(f, "node03", 0) == "leaf-su01-r1"
    assert m.leaf_of(f, "node03", 1) == "leaf-su01-r0"
    assert len(m.links(f, "node03", 0, "node04", 0)) == 4  # NICs plus two leaf uplinks


def test_collectives() -> None:
    f = fab()
    one = m.collective_busbw(f, ["node01"], "all_reduce")
    assert one == pytest.approx(400 / 2 * 0.78)  # NVLink bound inside a node
    two = m.collective_busbw(f, ["node01", "node05"], "all_reduce")
    assert two == pytest.approx(4 * 200 * 0.92 / 8)  # all four rails
    a2a = m.collective_busbw(f, ["node01", "node05"], "alltoall")
    assert a2a == pytest.approx(200 * 0.92 / 8)  # one NIC
    f["faults"] = [fault("peermem-missing", "node05")]
    no_gdr = m.collective_busbw(f, ["node01", "node05"], "all_reduce")
    assert isinstance(no_gdr, float) and no_gdr < 0.7 * float(two)
    assert m.bus_factor("all_reduce", 16) == pytest.approx(2 * 15 / 16)
    t = m.collective_time_us(92.0, "all_reduce", 16, 2**30, True)
    assert 2**30 / t / 1e3 * m.bus_factor("all_reduce", 16) == pytest.approx(92.0, rel=0.01)
    assert m.noise("s", 1) == m.noise("s", 1) != m.noise("s", 2)
