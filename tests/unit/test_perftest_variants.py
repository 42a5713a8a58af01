"""perftest as its other tests print it: every title and direction, atomics, latency with its
percentile columns and the duration mode, the `#sl` (QoS) table, warnings between the header
and the rows, a test named by its title alone, and output cut short. The inputs follow
perftest's own format strings (perftest_parameters.h); the real outputs are golden cases
under tests/facts/perftest/."""

from __future__ import annotations

import pytest

from aictl.facts.model import FailureKind
from aictl.facts.perftest import parse_perftest
from aictl.facts.registry import detect

RULE = "-" * 87


def _out(title: str, header: str, rows: list[str], *, close: bool = True) -> str:
    lines = [
        RULE,
        f"                    {title}",
        " Dual-port       : OFF          Device         : mlx5_0",
        " Number of qps   : 1            Transport type : IB",
        " Connection type : RC           Using SRQ      : OFF",
        " Link type       : Ethernet",
        " GID index       : 3",
        RULE,
        " local address: LID 0000 QPN 0x0107 PSN 0x4c2d0c",
        " GID: 00:00:00:00:00:00:00:00:00:00:255:255:10:78:01:11",
        RULE,
        header,
        *rows,
    ]
    if close:
        lines.append(RULE)
    return "\n".join(lines) + "\n"


BW_HEAD = " #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]"
BW_ROWS = [
    " 65536      5000             97.21              97.18  		   0.185346",
    " 1048576    5000             98.36              98.35  		   0.011725",
]
LAT_HEAD = (
    " #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    "
    "t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] "
)
LAT_ROWS = [
    " 2       1000          1.52           4.10         1.56              1.57             "
    "0.05            1.71                 4.10   ",
    " 8192    1000          3.11           8.18         3.19              3.19             "
    "0.07            3.34                 5.03   ",
]


@pytest.mark.parametrize(
    ("title", "test", "bidir", "atomic"),
    [
        ("RDMA_Write BW Test", "ib_write_bw", False, None),
        ("RDMA_Write Bidirectional BW Test", "ib_write_bw", True, None),
        ("RDMA_Read Bidirectional BW Test", "ib_read_bw", True, None),
        ("Send Bidirectional BW Test", "ib_send_bw", True, None),
        ("RDMA_Write_imm BW Test", "ib_write_bw", False, None),
        ("Send Post List BW Test", "ib_send_bw", False, None),
        ("Atomic FETCH_AND_ADD BW Test", "ib_atomic_bw", False, "FETCH_AND_ADD"),
        ("Atomic CMP_AND_SWAP BW Test", "ib_atomic_bw", False, "CMP_AND_SWAP"),
    ],
)
def test_every_bandwidth_title_names_its_test(
    title: str, test: str, bidir: bool, atomic: str | None
) -> None:
    text = _out(title, BW_HEAD, BW_ROWS)
    r = parse_perftest(text)  # no command line: the title alone names the test
    assert r.ok, r.failure
    assert (r.test, r.bidirectional, r.atomic) == (test, bidir, atomic)
    assert r.bw_avg_gbps == 98.35 and r.msg_rate_mpps == 0.011725 and r.gid_index == 3
    assert detect(text) == "perftest"


@pytest.mark.parametrize(
    ("title", "test"),
    [
        ("Send Latency Test", "ib_send_lat"),
        ("RDMA_Write Latency Test", "ib_write_lat"),
        ("RDMA_Read Latency Test", "ib_read_lat"),
        ("Atomic FETCH_AND_ADD Latency Test", "ib_atomic_lat"),
    ],
)
def test_latency_tests_and_their_percentiles(title: str, test: str) -> None:
    r = parse_perftest(_out(title, LAT_HEAD, LAT_ROWS))
    assert r.ok and r.test == test and r.bw_avg_gbps is None
    assert (r.lat_typical_us, r.lat_p99_us) == (3.19, 3.34)
    assert r.rows[0]["p99_9_us"] == 4.10 and r.rows[1]["t_stdev_us"] == 0.07


def test_latency_in_duration_mode() -> None:
    head = " #bytes        #iterations       t_avg[usec]    tps average"
    rows = [" 2             6452330           1.55           645233.02"]
    r = parse_perftest(_out("Send Latency Test", head, rows))
    assert r.ok and r.lat_typical_us == 1.55 and r.rows[0]["tps"] == 645233.02


def test_the_qos_table_has_a_service_level_column() -> None:
    head = (
        " #bytes    #sl      #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]"
    )
    rows = [
        " 65536      3           5000           97.20            97.17                  0.185330"
    ]
    r = parse_perftest(_out("RDMA_Write BW Test", head, rows))
    assert r.ok and r.rows[0]["iterations"] == 5000 and r.bw_avg_gbps == 97.17


def test_warnings_between_header_and_rows_are_kept() -> None:
    rows = [
        "Conflicting CPU frequency values detected: 1500.000000 != 3000.000000. CPU Frequency "
        "is not max.",
        BW_ROWS[0],
        "Requested mtu is higher than active mtu ",
        "Changing to active mtu - 3",
        BW_ROWS[1],
    ]
    r = parse_perftest(_out("RDMA_Write BW Test", BW_HEAD, rows))
    assert r.ok and len(r.rows) == 2 and r.bw_avg_gbps == 98.35
    assert r.warnings[0].startswith("Conflicting CPU frequency") and len(r.warnings) == 3


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (_out("RDMA_Write BW Test", BW_HEAD, [], close=False), "the header without a result row"),
        (
            _out("RDMA_Write BW Test", BW_HEAD, [BW_ROWS[0], " 1048576    5000   98.36"]),
            "a result row cut short",
        ),
        (_out("RDMA_Write BW Test", BW_HEAD, BW_ROWS, close=False), "without perftest's closing"),
        (_out("Send Latency Test", LAT_HEAD, [LAT_ROWS[0], LAT_ROWS[1][:60]]), "cut short"),
    ],
)
def test_output_cut_short_is_incomplete(text: str, why: str) -> None:
    r = parse_perftest(text)
    assert r.failure is not None and r.failure.kind is FailureKind.INCOMPLETE
    assert why in r.failure.message


def test_a_cut_at_any_byte_is_never_a_pass() -> None:
    full = _out("RDMA_Write BW Test", BW_HEAD, BW_ROWS)
    assert parse_perftest(full).ok
    for i in range(len(full) - 1):
        r = parse_perftest(full[:i])
        assert not r.ok, (i, full[:i][-40:])


def test_a_completion_error_is_not_incomplete() -> None:
    rows = [
        BW_ROWS[0],
        " Completion with error at client",
        " Failed status 12: wr_id 0 syndrom 0x81",
        "scnt=128, ccnt=0",
        " Failed to complete run_iter_bw function successfully",
    ]
    r = parse_perftest(_out("RDMA_Write BW Test", BW_HEAD, rows, close=False))
    assert r.failure is not None and r.failure.kind is FailureKind.COMPLETION
