"""`ofed_info` of both host driver stacks (MLNX_OFED and DOCA-OFED): golden parser cases in
tests/parsers/ofed_info/<case>.txt -> <case>.json (`pytest --update-golden` rewrites them)."""

from __future__ import annotations

import json

import pytest

from aictl.checks.parse_hca import parse_ofed_info
from aictl.checks.registry import detect
from tests.conftest import TESTS, check_golden

CASES = TESTS / "parsers" / "ofed_info"


@pytest.mark.parametrize("case", sorted(p.stem for p in CASES.glob("*.txt")))
def test_ofed_info_cases(case: str, update_golden: bool) -> None:
    text = (CASES / f"{case}.txt").read_text()
    parsed = parse_ofed_info(text)
    body = json.dumps(parsed, indent=2, sort_keys=True) + "\n"
    check_golden(CASES / f"{case}.json", body, update_golden)
    if parsed["status"] == "ok":
        assert detect(text) == "ofed_info"


def test_both_stacks_name_their_release() -> None:
    doca = parse_ofed_info("OFED-internal-25.10-2.4.1:\n")
    assert (doca["stack"], doca["release"]) == ("DOCA-OFED", "25.10-2.4.1")
    mlnx = parse_ofed_info("MLNX_OFED_LINUX-24.10-4.1.4.0:\n")
    assert (mlnx["stack"], mlnx["release"]) == ("MLNX_OFED", "24.10-4.1.4.0")
    assert mlnx["version"] == "MLNX_OFED_LINUX-24.10-4.1.4.0"  # what the fleet rule compares
