"""Preflight and fabric verification on a 64-node lab: wall time of `aictl check` (every node,
in parallel, one SSH session each) and `aictl topo verify --live` (target: seconds).

Run as root: .venv/bin/python tests/bench/bench_check.py [--nodes 64] [--strict]
(scripts/bench.sh runs it when it is root). Brings a lab up and always takes it down.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aictl.lab import lab_down, lab_up
from aictl.spec.loader import parse_spec_text, preset_text
from aictl.topology import build_topology


def spec_text(nodes: int) -> str:
    """lab-small grown to `nodes`: 16-node SUs on 32-port switches."""
    text = preset_text("lab-small").replace("name: lab-small", f"name: lab-{nodes}")
    for old, new in (
        ("nodes:\n  count: 8", f"nodes:\n  count: {nodes}"),
        ("nodes_per_su: 4", "nodes_per_su: 16"),
        ("switch_ports: 8", "switch_ports: 32"),
        ("switch_model: lab-8p", "switch_model: lab-32p"),
        ("pod_ips_per_node: 4", "pod_ips_per_node: 2"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return text


def timed(cmd: list[str]) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    return time.perf_counter() - t0, p.returncode, p.stdout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=64)
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    text = spec_text(args.nodes)
    loaded = parse_spec_text(text, f"lab-{args.nodes}")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    aictl = str(ROOT / ".venv" / "bin" / "aictl")
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "lab.yaml"
        spec.write_text(text)
        build = Path(tmp) / "build"
        lab_down(topo.name, build=build)
        t0 = time.perf_counter()
        try:
            lab_up(topo, build=build)
            up = time.perf_counter() - t0
            check_s, check_rc, out = timed(
                [aictl, "check", str(spec), "--target", "lab", "--out", str(build), "-o", "json"]
            )
            data = json.loads(out) if out.strip().startswith("{") else {}
            verify_s, verify_rc, _ = timed(
                [
                    aictl,
                    "topo",
                    "verify",
                    str(spec),
                    "--target",
                    "lab",
                    "--out",
                    str(build),
                    "--live",
                    "node01",
                    "--lldp",
                    "-o",
                    "json",
                ]
            )
        finally:
            lab_down(topo.name, build=build)
    ok = check_rc == 0 and verify_rc == 0
    print(f"lab of {args.nodes} nodes up in {up:.1f} s")
    checks = len(data.get("checks", []))
    print(f"aictl check {args.nodes} nodes x {checks} checks: {check_s:5.1f} s (rc {check_rc})")
    print(
        "aictl topo verify (ibnetdiscover + LFTs + LLDP on every node): "
        f"{verify_s:5.1f} s (rc {verify_rc})"
    )
    fast = check_s <= 30 and verify_s <= 30
    print(f"target: seconds (<= 30 s each): {'met' if fast and ok else 'MISSED'}")
    return 1 if args.strict and not (fast and ok) else 0


if __name__ == "__main__":
    sys.exit(main())
