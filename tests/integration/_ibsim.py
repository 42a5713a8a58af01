"""Run ibsim on a planned net file, and clients (opensm, diags) against it."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def ibsim(net: Path, work: Path) -> Iterator[dict[str, str]]:
    """Run ibsim on `net`; yield the environment its clients need."""
    header = net.read_text().splitlines()[1]
    args = re.match(r"# ibsim (.*) <this file>", header)
    assert args, header
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(
        IBSIM_SOCKNAME=f"aictl-test-{os.getpid()}-{net.parent.parent.name}",
        OSM_CACHE_DIR=str(work),
        OSM_TMP_DIR=str(work),
    )
    log = work / "ibsim.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            ["ibsim", *args.group(1).split(), str(net)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    try:
        for _ in range(300):
            text = log.read_text()
            if "simulator ready" in text or "ibpanic" in text or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert "simulator ready" in log.read_text(), log.read_text()[-2000:]
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_sim(cmd: list[str], env: dict[str, str]) -> str:
    return subprocess.run(
        ["ibsim-run", *cmd], env=env, capture_output=True, text=True, timeout=300, check=False
    ).stdout
