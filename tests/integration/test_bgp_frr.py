"""The RoCE underlay in real FRR: two spines and two leaves of roce-h100-256, each in its own
network namespace with its rendered frr.conf. It converges (every session up, each leaf
reaches the other's loopback over both spines), and `aictl topo verify --bgp-dir` reads what
vtysh prints: clean when healthy; a pulled cable is a `bgp-session-down` on both of its ends,
named by port, and nothing else."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.fabric.bgp import check_bgp, read_dir
from aictl.facts.frr import parse_bgp_summary, parse_ip_route
from aictl.spec.loader import load_preset
from aictl.topology import build_topology
from tests.conftest import require_tools
from tests.integration._frr import FRR, FrrFabric, frr_fabric

NAMES = ["spine-01", "spine-02", "leaf-su01-r0", "leaf-su02-r0"]


def _save(fab: FrrFabric, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in NAMES:
        (folder / f"{n}.summary.json").write_text(fab.vty(n, "show bgp summary json"))
        (folder / f"{n}.routes.json").write_text(fab.vty(n, "show ip route json"))


def _converged(fab: FrrFabric, leaf2_lo: str) -> tuple[int, int]:
    established = paths = 0
    for _ in range(120):
        established = sum(
            p.state == "Established"
            for n in NAMES
            for p in parse_bgp_summary(fab.vty(n, "show bgp summary json")).peers
            if p.afi == "ipv4Unicast"
        )
        routes = parse_ip_route(fab.vty("leaf-su01-r0", f"show ip route {leaf2_lo}/32 json"))
        paths = next((r.nexthops for r in routes.routes if r.prefix == f"{leaf2_lo}/32"), 0)
        if established == 8 and paths == 2:
            break
        time.sleep(0.5)
    return established, paths


def test_live_frr_fabric_converges_and_verify_reads_its_bgp(tmp_path: Path) -> None:
    require_tools("ip", "vtysh")
    if not (FRR / "zebra").exists() or not (FRR / "bgpd").exists():
        require_tools("/usr/lib/frr/zebra")
    loaded = load_preset("roce-h100-256")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    leaf2_lo = next(s.loopback for s in topo.switches if s.name == "leaf-su02-r0")
    with frr_fabric(topo, NAMES, f"aictlt{time.time_ns() % 100000}") as fab:
        established, paths = _converged(fab, leaf2_lo)
        assert established == 8, "every session of the 2x2 subset is Established"
        assert paths == 2, "leaf1 reaches leaf2's loopback over both spines"
        _save(fab, tmp_path / "healthy")
        # pull the cable between leaf-su01-r0 and spine-02 (hold time 9 s: wait it out)
        cable = next(
            c for c in topo.cables if c.a_device == "leaf-su01-r0" and c.b_device == "spine-02"
        )
        fab.link("leaf-su01-r0", c_port := cable.a_port, up=False)
        for _ in range(60):
            peers = parse_bgp_summary(fab.vty("spine-02", "show bgp summary json")).peers
            if any(p.neighbor == f"swp{cable.b_port}" and p.state != "Established" for p in peers):
                break
            time.sleep(0.5)
        _save(fab, tmp_path / "pulled")

    part = check_bgp(topo, *read_dir(tmp_path / "healthy"))
    assert part["findings"] == [] and part["sessions_established"] == 8
    # leaves to the three others' loopbacks, spines to the two leaves' (not to each other: AS)
    assert part["routes_expected"] == 10
    res = CliRunner().invoke(
        app,
        [
            "topo",
            "verify",
            "--preset",
            "roce-h100-256",
            "--bgp-dir",
            str(tmp_path / "pulled"),
            "--out",
            str(tmp_path / "build"),
            "-o",
            "json",
        ],
    )
    assert res.exit_code == 4, res.output
    data = json.loads(res.stdout)
    found = [(f["kind"], f["where"]) for f in data["bgp"]["findings"]]
    assert found == [
        ("bgp-session-down", f"leaf-su01-r0 swp{c_port}"),
        ("bgp-session-down", f"spine-02 swp{cable.b_port}"),
    ]
    assert "check the cable leaf-su01-r0 swp" in data["bgp"]["findings"][0]["fix"]
