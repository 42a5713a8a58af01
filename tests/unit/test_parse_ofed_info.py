"""`ofed_info` of both host driver stacks (MLNX_OFED and DOCA-OFED); the golden cases are
under tests/facts/ofed_info/ (tests/unit/test_facts.py)."""

from __future__ import annotations

from aictl.facts.hca import parse_ofed_info


def test_both_stacks_name_their_release() -> None:
    doca = parse_ofed_info("OFED-internal-25.10-2.4.1:\n")
    assert (doca.stack, doca.release) == ("DOCA-OFED", "25.10-2.4.1")
    mlnx = parse_ofed_info("MLNX_OFED_LINUX-24.10-4.1.4.0:\n")
    assert (mlnx.stack, mlnx.release) == ("MLNX_OFED", "24.10-4.1.4.0")
    assert mlnx.version == "MLNX_OFED_LINUX-24.10-4.1.4.0"  # what the fleet rule compares
