"""Golden cases for every fact in the registry: `tests/facts/<fact>/<case>.txt` (our own
inputs: the lab's outputs, edge cases) or `<case>.sample` (the name of a real output in
../shared/samples), each with `<case>.json`, the expected parse. One test per case;
`pytest --update-golden` rewrites the JSON from what the parser says now — review the diff.

Goldens of real samples keep the parsed facts, not the text: lines a parser could not read
are counted, not copied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aictl import jsonio
from aictl.facts.registry import REGISTRY, detect
from tests.conftest import TESTS, check_golden, require_shared, shared_dir

CASES = TESTS / "facts"
SOURCE = ".source.txt"  # where a real output came from (`real-*` cases)

# real outputs aictl does not read yet, and the issue that will read them
NOT_READ_YET = {
    "nvidia_smi_550_": "nvidia-smi's default table (nothing reads it; -q is the fact)",
}


def _cases() -> list[Any]:
    out = []
    for d in sorted(p for p in CASES.iterdir() if p.is_dir()):
        for f in sorted(d.iterdir()):
            if f.suffix in (".txt", ".sample") and not f.name.endswith(SOURCE):
                out.append(pytest.param(d.name, f, id=f"{d.name}/{f.stem}"))
    return out


def _input(case: Path) -> str:
    if case.suffix == ".sample":
        return (require_shared("samples") / case.read_text().strip()).read_text(errors="replace")
    return case.read_text()


def _view(data: Any) -> Any:
    """The golden view: `unparsed` lines counted, not kept (they are a sample's own text)."""
    if isinstance(data, dict):
        return {
            k: (len(v) if k == "unparsed" and isinstance(v, list) else _view(v))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_view(v) for v in data]
    return data


@pytest.mark.parametrize(("fact", "case"), _cases())
def test_fact_case(fact: str, case: Path, update_golden: bool) -> None:
    text = _input(case)
    parsed = REGISTRY[fact].parse(text)
    assert parsed.tool and parsed.status.value in ("ok", "fail")
    check_golden(case.with_suffix(".json"), jsonio.dumps(_view(parsed.as_json())), update_golden)
    # a real output, or one of ours that reads: `--tool auto` must know which tool printed it
    if REGISTRY[fact].detect and (case.suffix == ".sample" or parsed.ok):
        assert detect(text) == fact, f"--tool auto does not recognise {case.name}"


def test_every_fact_has_cases() -> None:
    have = {p.name for p in CASES.iterdir() if p.is_dir()}
    assert have == set(REGISTRY), set(REGISTRY) ^ have


def test_every_sample_aictl_reads_has_a_case() -> None:
    if shared_dir() is None:
        pytest.skip("shared/ not available")
    samples = require_shared("samples")
    referenced = {f.read_text().strip() for f in CASES.glob("*/*.sample")}
    for f in sorted(samples.iterdir()):
        if f.name.endswith(".source.txt") or f.name.endswith(".md"):
            continue
        if any(f.name.startswith(p) for p in NOT_READ_YET):
            continue
        assert f.name in referenced, f"{f.name}: no golden case under tests/facts/"


def test_every_real_case_names_its_source() -> None:
    """`real-<case>.txt` is an output somebody else's cluster printed: where it was found (an
    issue thread, a project's test data) is kept beside it, in `real-<case>.source.txt`."""
    for f in sorted(CASES.glob("*/real-*.*")):
        if f.name.endswith(SOURCE):
            stem = f.name[: -len(SOURCE)]
            cases = [c for c in f.parent.glob(f"{stem}.*") if c.suffix not in (".json",)]
            assert len(cases) > 1, f"{f}: no case beside it"
            continue
        if f.suffix == ".json":
            continue
        src = f.with_name(f.stem + SOURCE)  # real-x.txt or real-x.map: real-x.source.txt
        assert src.exists() and src.read_text().strip(), f"{f}: no {src.name}"


# the lab's cases: what its simulated tools print for a node of each group (and a fault),
# regenerated with --update-golden when the lab's tools change
def _lab_outputs() -> dict[tuple[str, str], str]:
    import contextlib
    import io
    from collections.abc import Callable

    from aictl.lab import simtools
    from aictl.lab.hardware import apply_fault, node_hardware, planned_guids
    from aictl.spec.loader import load_preset
    from aictl.topology import build_topology

    loaded = load_preset("mixed-lab")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    guids = planned_guids(topo)

    def hw(name: str, **fault: Any) -> dict[str, Any]:
        h = node_hardware(topo, topo.node(name), guids)
        if fault:
            apply_fault(h, {"host": name, "rail": None, "gpu": None, "factor": None, **fault})
        return h

    def smi(args: list[str]) -> Callable[[dict[str, Any]], str]:
        def run(h: dict[str, Any]) -> str:
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                simtools.nvidia_smi(args, h)
            return buf.getvalue()

        return run

    def topo_m(h: dict[str, Any]) -> str:
        return "\n".join([simtools.mark("nvidia-smi", h), *simtools.topo_matrix(h)]) + "\n"

    out = {}
    for case, node in (("lab-a800", "node01"), ("lab-h100-4gpu", "node05")):
        h = hw(node)
        out[("topo", case)] = topo_m(h)
        out[("nvlink", case)] = smi(["nvlink", "-s"])(h)
        out[("nvidia-smi-q", case)] = smi(["-q"])(h)
    out[("nvlink", "lab-links-down")] = smi(["nvlink", "-s"])(
        hw("node02", kind="nvlink-down", gpu=1, factor=4)
    )
    out[("nvidia-smi-q", "lab-ecc-errors")] = smi(["-q"])(hw("node02", kind="ecc-errors", gpu=3))
    out.update(_lab_day2_outputs(hw, smi))
    return out


def _lab_day2_outputs(hw: Any, smi: Any) -> dict[tuple[str, str], str]:
    """The day-2 facts as the lab prints them, healthy and with each node fault."""
    import contextlib
    import io

    from aictl.lab import simtools
    from aictl.lab.hardware import aer_grep, fm_log, roce_text

    def call(tool: Any, args: list[str], h: dict[str, Any]) -> str:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            tool(args, h)
        return buf.getvalue()

    clock = "# aictl clock 1767225660 uptime 86400 window 86400\n"
    xid = hw("node02", kind="xid", gpu=2, code=119, at=1767225600.0)
    return {
        ("kernel-log", "lab-xid"): clock + call(simtools.dmesg, [], xid),
        ("nvlink-errors", "lab-a800"): smi(["nvlink", "-e"])(hw("node01")),
        ("nvlink-errors", "lab-nvlink-errors"): smi(["nvlink", "-e"])(
            hw("node02", kind="nvlink-errors", gpu=6)
        ),
        ("aer", "lab-aer-errors"): aer_grep(hw("node02", kind="aer-errors", gpu=4)) + "\n",
        ("fabricmanager-log", "lab-a800"): clock + fm_log(hw("node01")),
        ("dcgm", "lab-a800"): call(simtools.dcgmi, ["diag", "-r", "2", "-j"], hw("node01")),
        ("dcgm", "lab-dcgm-fail"): call(
            simtools.dcgmi, ["diag", "-r", "2", "-j"], hw("node02", kind="dcgm-fail", gpu=3)
        ),
        ("nvidia-smi-q", "lab-throttle"): smi(["-q"])(hw("node02", kind="throttle", gpu=1)),
        ("roce", "lab-a800"): roce_text(hw("node01")),
        ("roce", "lab-roce-pause"): roce_text(hw("node02", kind="roce-pause", rail=1)),
        ("roce", "lab-qos-drift"): roce_text(hw("node02", kind="qos-drift", rail=2)),
    }


def test_lab_cases_are_what_the_lab_prints(update_golden: bool) -> None:
    for (fact, case), text in sorted(_lab_outputs().items()):
        check_golden(CASES / fact / f"{case}.txt", text, update_golden)
