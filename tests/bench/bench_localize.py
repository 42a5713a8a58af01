"""Slow-node localization benchmark on the fabric model: rounds and modelled wall time of
aictl's pairwise + confirmation rounds beside bisection's, for the targets in DESIGN.md
(one slow node among 128: <= 2 rounds and <= 3 minutes; four among 1,024: <= 3 rounds).

Run: scripts/bench.sh   (or .venv/bin/python tests/bench/bench_localize.py [--strict])
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.localize_model import (
    aictl_localize,
    bisection,
    cluster,
    group_drop,
    slow_fabric,
    spread,
)

CASES = ((128, 1, 2, 180.0), (1024, 4, 3, None))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    missed = 0
    print(f"{'case':<22} {'method':<10} {'rounds':>6} {'tests':>6} {'wall':>9}  named")
    for nodes, k, max_rounds, max_wall in CASES:
        t0 = time.perf_counter()
        topo = cluster(nodes)
        slow = spread(topo, k)
        fab = slow_fabric(topo, slow)
        ours = aictl_localize(topo, fab)
        bis = bisection(topo, fab)
        named = sorted((s.node, s.rail or 0) for s in ours.named)
        right = named == sorted(slow)
        case = f"{k} slow / {nodes} nodes"
        for label, o in (("aictl", ours), ("bisection", bis)):
            names = ", ".join(
                s.where + (f" r{s.rail}" if s.rail is not None else "") for s in o.named
            )
            print(f"{case:<22} {label:<10} {o.rounds:>6} {o.tests:>6} {o.wall_s:>8.0f}s  {names}")
        ok = right and ours.rounds <= max_rounds and (max_wall is None or ours.wall_s <= max_wall)
        target = f"<= {max_rounds} rounds" + (f", <= {max_wall:.0f} s" if max_wall else "")
        print(
            f"{'':<22} (a whole-cluster all_reduce loses only {group_drop(topo, fab):.1%} to "
            "these faults; bisection is credited with a perfect detector)"
        )
        print(
            f"{'':<22} target {target}: {'met' if ok else 'MISSED'}"
            f" (named {'exactly the slow NICs' if right else 'WRONG: ' + str(named)};"
            f" computed in {time.perf_counter() - t0:.1f} s)"
        )
        missed += not ok
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
