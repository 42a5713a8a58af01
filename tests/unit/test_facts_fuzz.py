"""Hypothesis: every fact's parser, fed its golden inputs cut at any byte, with lines shuffled,
CRLF line ends, NUL bytes or garbage spliced in, returns a typed result (`ok` or `fail`, as
JSON) or a clear "not recognised" — never an exception. The fabric comparison behind
`topo verify` takes whatever ibnetdiscover parse comes out without raising either."""

from __future__ import annotations

from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aictl import jsonio
from aictl.fabric.diff import compare
from aictl.facts.ibnet import parse_ibnetdiscover
from aictl.facts.model import Parsed
from aictl.facts.registry import REGISTRY, detect
from aictl.spec.loader import load_preset
from aictl.status import Status
from aictl.topology import build_topology
from aictl.topology.model import Topology
from tests.conftest import TESTS, shared_dir

CASES = TESTS / "facts"


def _inputs() -> list[tuple[str, str]]:
    out = []
    for d in sorted(p for p in CASES.iterdir() if p.is_dir()):
        for f in sorted(d.iterdir()):
            if f.name.endswith(".source.txt"):
                continue
            if f.suffix == ".txt":
                out.append((d.name, f.read_text(errors="replace")))
            elif f.suffix == ".sample" and (base := shared_dir()) is not None:
                real = base / "samples" / f.read_text().strip()
                if real.exists():
                    out.append((d.name, real.read_text(errors="replace")[:200_000]))
    return out


INPUTS = _inputs()


@cache
def _topo() -> Topology:
    loaded = load_preset("mixed-lab")
    return build_topology(loaded.spec, spec_sha256=loaded.sha256)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    fact, text = draw(st.sampled_from(INPUTS))
    how = draw(st.sampled_from(["cut", "shuffle", "crlf", "nul", "splice", "dup", "strip"]))
    if how == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif how == "shuffle":
        lines = text.splitlines(keepends=True)
        text = "".join(draw(st.permutations(lines)))
    elif how == "crlf":
        text = text.replace("\n", "\r\n")
    elif how == "nul":
        at = draw(st.lists(st.integers(0, len(text)), max_size=8))
        for i in sorted(at, reverse=True):
            text = text[:i] + "\x00" + text[i:]
    elif how == "splice":
        i = draw(st.integers(0, len(text)))
        junk = draw(
            st.one_of(
                st.text(max_size=40),
                st.sampled_from(
                    ["nan", "-inf", "N/A", "{", "}", '"', "0x", "[1]", "#", "\ufffd", "9" * 400]
                ),
            )
        )
        text = text[:i] + junk + text[i:]
    elif how == "dup":
        lines = text.splitlines(keepends=True)
        if lines:
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
        text = "".join(lines)
    else:
        text = text.strip()
    return fact, text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_every_parser_survives_what_real_outputs_turn_into(case: tuple[str, str]) -> None:
    fact, text = case
    parsed = REGISTRY[fact].parse(text)
    assert isinstance(parsed, Parsed) and parsed.status in (Status.OK, Status.FAIL)
    assert parsed.ok or parsed.failure is not None  # a failure always says what it was
    jsonio.dumps(parsed.as_json())
    found = detect(text)
    assert found is None or found in REGISTRY


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10**6), mutated())
def test_any_fact_parser_on_any_other_output(seed: int, case: tuple[str, str]) -> None:
    """The wrong parser (a user's --tool) reads a typed failure, never a crash."""
    _, text = case
    fact = sorted(REGISTRY)[seed % len(REGISTRY)]
    parsed = REGISTRY[fact].parse(text)
    assert parsed.status in (Status.OK, Status.FAIL)
    jsonio.dumps(parsed.as_json())


ibnet_inputs = st.sampled_from([t for f, t in INPUTS if f == "ibnetdiscover" and t.strip()])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ibnet_inputs, st.data())
def test_verify_compares_any_discovered_fabric(text: str, data: st.DataObject) -> None:
    lines = text.splitlines(keepends=True)
    keep = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    cut = "".join(ln for ln, k in zip(lines, keep, strict=True) if k)
    res = compare(_topo(), parse_ibnetdiscover(cut))
    assert isinstance(res["findings"], list) and res["ok"] is (not res["findings"])
    jsonio.dumps(res)
