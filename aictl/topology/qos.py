"""RoCE lossless QoS: the one set of numbers the hosts and the switches must agree on.

These are the NVIDIA Spectrum defaults that `nv set qos roce mode lossless` applies (trust
DSCP; RoCE on switch priority / traffic class 3 with PFC and ECN; CNP on priority 6, strict),
so the host side (mlnx_qos, cma_roce_tos, the NCCL traffic class) is rendered from the same
constants and a test checks both sides.
"""

from __future__ import annotations

ROCE_PRIORITY = 3  # switch priority and traffic class of RoCE data, lossless (PFC)
ROCE_DSCP = 26  # DSCP the hosts mark RoCE with; the switch maps 24-31 to priority 3
CNP_PRIORITY = 6  # congestion notification packets, strict priority
CNP_DSCP = 48  # DSCP of CNPs; the switch maps 48-55 to priority 6
# RDMA-CM and NCCL take the whole ToS byte: DSCP << 2, ECN-capable (ECT0 = 0b10)
ROCE_TOS = ROCE_DSCP << 2 | 0b10


def pfc_vector(priority: int = ROCE_PRIORITY) -> str:
    """mlnx_qos --pfc argument: 1 on the lossless priority, 0 elsewhere."""
    return ",".join("1" if p == priority else "0" for p in range(8))
