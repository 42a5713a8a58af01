"""Parser throughput: MB/s for every fact of the registry, and a 100 MB nccl-tests soak log
(NCCL_DEBUG=INFO, a row every few thousand INFO lines) against its target of >= 50 MB/s on
this 2-core machine. Also `--tool auto` recognition on the big log, and the peak memory of
parsing it.

Inputs are built from the golden cases under tests/facts (our own and, where ../shared is
present, the real samples), repeated to size; JSON facts get a large valid document.

Run: scripts/bench.sh   (or .venv/bin/python tests/bench/bench_parsers.py [--strict] [--mb N])
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aictl.facts.registry import FACTS, detect
from tests.conftest import TESTS, shared_dir

NCCL_TARGET_MBPS = 50.0
CASES = TESTS / "facts"


def _inputs(fact: str) -> list[str]:
    out = []
    for f in sorted((CASES / fact).iterdir()):
        if f.name.endswith(".source.txt") or f.stem == "empty":
            continue
        if f.suffix == ".txt":
            out.append(f.read_text(errors="replace"))
        elif f.suffix == ".sample" and (base := shared_dir()) is not None:
            real = base / "samples" / f.read_text().strip()
            if real.exists():
                out.append(real.read_text(errors="replace"))
    return out


def _big(fact: str, mb: float) -> str:
    """One input of about `mb` MB that the fact's parser reads as one output."""
    texts = _inputs(fact)
    if not texts:
        return ""
    # a JSON report (nccl -J) is one document: repeat the largest text output instead
    plain = [t for t in texts if not t.lstrip().startswith("{")] or texts
    base = max(plain if fact not in ("ip-link", "lldpctl") else texts, key=len)
    want = int(mb * 1e6)
    if fact == "ip-link":
        links = json.loads(base)
        n = max(1, want // max(1, len(base)))
        many = [
            dict(link, ifname=f"{link.get('ifname', 'x')}-{i}", ifindex=i * 1000 + j)
            for i in range(n)
            for j, link in enumerate(links)
        ]
        return json.dumps(many)
    if fact == "lldpctl":
        doc = json.loads(base[base.index("{") :])
        ifaces = doc["lldp"]["interface"]
        items = (
            list(ifaces.items())
            if isinstance(ifaces, dict)
            else [kv for entry in ifaces for kv in entry.items()]
        )
        n = max(1, want // max(1, len(base)))
        many = [{f"{k}.{i}": v} for i in range(n) for k, v in items]
        return json.dumps({"lldp": {"interface": many}})
    if base.lstrip().startswith("{"):  # nccl -J: one report, not repeatable
        return base
    return (base.rstrip("\n") + "\n") * max(1, want // max(1, len(base)))


def soak_log(mb: float) -> str:
    """A long nccl-tests run with NCCL_DEBUG=INFO: a header, then sizes with thousands of INFO
    lines between rows (proxy and channel chatter), the footer at the end."""
    head = [
        "# nccl-tests version 2.19.6 nccl-headers=22807 nccl-library=22807",
        "# Collective test starting: all_reduce_perf",
        "# nThread 1 nGpus 1 minBytes 8589934592 maxBytes 8589934592 step: 2(factor) warmup "
        "iters: 5 iters: 20 agg iters: 1 validation: 1 graph: 0 unalign: 0",
        "#",
        "# Using devices",
        *(
            f"#  Rank {r:2d} Group  0 Pid {4000 + r:6d} on     node{r // 8 + 1:02d} device "
            f"{r % 8:2d} [0000:{0x18 + r % 8:02x}:00] NVIDIA A800-SXM4-80GB"
            for r in range(16)
        ),
        "#",
        "#       size         count      type   redop    root     time   algbw   busbw  #wrong"
        "     time   algbw   busbw  #wrong ",
        "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)        "
        "     (us)  (GB/s)  (GB/s)         ",
    ]
    info = [
        f"node{n:02d}:{4000 + g}:{4100 + g} [{g}] NCCL INFO Channel {c:02d}/0 : {g}[{g}] -> "
        f"{(g + 1) % 8}[{(g + 1) % 8}] via P2P/CUMEM/read"
        for n in (1, 2)
        for g in range(8)
        for c in range(4)
    ]
    block = "\n".join(info * 40) + "\n"
    row = (
        "  8589934592    2147483648     float     sum      -1  46112.3  186.28  349.28       0"
        "  46087.1  186.38  349.47       0\n"
    )
    out = ["\n".join(head) + "\n"]
    size = len(out[0])
    while size < mb * 1e6:
        out.append(block)
        out.append(row)
        size += len(block) + len(row)
    out.append("# Out of bounds values : 0 OK\n# Avg bus bandwidth    : 349.3 \n#\n")
    return "".join(out)


def _rate(fn: object, text: str) -> tuple[float, float]:
    """(MB/s, seconds) of the best of three runs (one for inputs over 20 MB)."""
    assert callable(fn)
    best = float("inf")
    for _ in range(1 if len(text) > 20e6 else 3):
        t0 = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - t0)
    return len(text) / 1e6 / best, best


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    ap.add_argument("--mb", type=float, default=100.0, help="size of the soak log in MB")
    ap.add_argument("--each-mb", type=float, default=5.0, help="size of each fact's input")
    args = ap.parse_args()
    print(f"{'fact':<15} {'input':>9} {'MB/s':>9}")
    for fact in FACTS:
        text = _big(fact.name, args.each_mb)
        if not text:
            print(f"{fact.name:<15} {'-':>9} {'(no input)':>9}")
            continue
        mbps, _ = _rate(fact.parse, text)
        print(f"{fact.name:<15} {len(text) / 1e6:>7.1f}MB {mbps:>9.1f}")
    log = soak_log(args.mb)
    nccl = next(f for f in FACTS if f.name == "nccl")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mbps, secs = _rate(nccl.parse, log)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = nccl.parse(log)
    t0 = time.perf_counter()
    tool = detect(log)
    det = time.perf_counter() - t0
    rows = len(getattr(res, "rows", ()))
    print(
        f"nccl soak log   {len(log) / 1e6:>7.1f}MB {mbps:>9.1f}  ({secs:.2f} s, {rows} rows, "
        f"status {res.status.value}, peak RSS +{(peak - before) / 1024:.0f} MiB, "
        f"detect {tool} in {det * 1000:.0f} ms)"
    )
    ok = mbps >= NCCL_TARGET_MBPS and res.ok and tool == "nccl"
    print(f"target: nccl-tests text >= {NCCL_TARGET_MBPS:g} MB/s: {'met' if ok else 'MISSED'}")
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
