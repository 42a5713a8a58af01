"""nccl-tests and perftest parsers on every real sample (and on the lab's outputs)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aictl.facts import nccl, perftest
from aictl.facts.nccl import redact_env
from aictl.facts.registry import detect
from tests.conftest import require_shared


def parse_nccl(text: str, **kw: Any) -> dict[str, Any]:
    """The parse as `aictl accept parse -o json` prints it."""
    return nccl.parse_nccl(text, **kw).as_json()


def parse_perftest(text: str, **kw: Any) -> dict[str, Any]:
    return perftest.parse_perftest(text, **kw).as_json()


def _s(name: str) -> str:
    return (require_shared("samples") / name).read_text()


@pytest.mark.parametrize(
    ("name", "collective", "ranks", "rows", "peak", "avg"),
    [
        ("nccl_all_reduce_1node_8xA100_pre213_info_noise.txt", None, 8, 34, 235.26, 68.4048),
        ("nccl_alltoall_1node_8xA100_pre213.txt", None, 8, 34, 226.16, 58.6481),
        ("nccl_all_reduce_1node_8xH100_nvls_2.13plus.txt", None, 8, 6, 476.53, 439.369),
        ("nccl_all_reduce_2node_16xH100_gcp_a3mega_tcpxo.txt", None, 16, 31, 338.82, 70.742),
        (
            "nccl_all_reduce_2node_16xH100_ndr_ring_srun_label_excerpt.txt",
            None,
            16,
            11,
            102.27,
            85.5294,
        ),
        (
            "nccl_all_reduce_2node_2xGH200_v2.18.2_newest_format.txt",
            "all_reduce",
            2,
            8,
            22.88,
            14.9966,
        ),
        ("nccl_all_reduce_2node_8xGH200_slingshot_good.txt", "all_reduce", 8, 25, 123.11, 19.7866),
    ],
)
def test_nccl_tables_of_every_era(
    name: str, collective: str | None, ranks: int, rows: int, peak: float, avg: float
) -> None:
    d = parse_nccl(_s(name))
    assert (d["status"], d["failure"]) == ("ok", None), d["failure"]
    assert d["collective"] == collective and d["ranks"] == ranks and len(d["rows"]) == rows
    assert d["peak_busbw_gbps"] == peak and d["avg_busbw_gbps"] == avg
    assert d["out_of_bounds"] == {"count": 0, "ok": True} and d["simulated"] is False
    assert d == parse_nccl(_s(name))


def test_nccl_row_details() -> None:
    old = parse_nccl(_s("nccl_alltoall_1node_8xA100_pre213.txt"))
    row = old["rows"][-1]
    assert row["redop"] == "" and row["type"] == "float" and row["root"] is None  # blank redop
    assert row["out_of_place"]["wrong"] is None and "error" in row["out_of_place"]
    new = parse_nccl(_s("nccl_all_reduce_2node_2xGH200_v2.18.2_newest_format.txt"))
    r = new["rows"][0]
    assert (r["size_bytes"], r["count"], r["redop"], r["root"]) == (1048576, 262144, "sum", -1)
    assert r["out_of_place"] == {
        "time_us": 339.61,
        "algbw_gbps": 3.09,
        "busbw_gbps": 3.09,
        "wrong": 0,
        "error": None,
    }
    assert new["version"] == "2.18.2" and new["params"]["nGpus"] == 1
    srun = parse_nccl(_s("nccl_all_reduce_2node_16xH100_ndr_ring_srun_label_excerpt.txt"))
    assert {d["host"] for d in srun["devices"]} == {"node005", "node007"}
    send = parse_nccl(_s("nccl_sendrecv_1node_8xA100_excerpt.txt"))
    assert (
        send["rows"][0]["in_place"]["wrong"] is None
        and send["rows"][0]["out_of_place"]["wrong"] == 0
    )


def test_nccl_failures_are_classified() -> None:
    busy = parse_nccl(_s("nccl_all_reduce_2node_8xGH200_v2.17.8_cuda_busy_failure.txt"))
    # a CUDA failure before the table: the GPU's, and the host that printed it first
    assert busy["failure"]["kind"] == "gpu" and busy["failure"]["host"] == "gpu-1-1"
    assert "busy or unavailable" in busy["failure"]["message"]
    bad = parse_nccl(_s("nccl_tests_bad_size_arg_mpirun_8xH100.txt"))
    assert bad["failure"] == {"kind": "launch", "message": "invalid size specified for 'minbytes'"}
    cut = parse_nccl(_s("nccl_sendrecv_1node_8xA100_excerpt.txt"))
    assert cut["failure"]["kind"] == "timeout"  # the table stops without a footer
    ring = parse_nccl(
        _s("nccl_all_reduce_2node_16xH100_ndr_ring_srun_label_excerpt.txt"), expect_busbw=300
    )
    assert ring["failure"]["kind"] == "performance" and "102.27" in ring["failure"]["message"]
    text = _s("nccl_all_reduce_2node_2xGH200_v2.18.2_newest_format.txt")
    wrong = text.replace("22.86       0", "22.86      96").replace(
        "Out of bounds values : 0 OK", "Out of bounds values : 4 FAILED"
    )
    assert parse_nccl(wrong)["failure"]["kind"] == "correctness"
    assert parse_nccl("")["failure"]["kind"] == "launch"


def test_nccl_json_report_and_env_redaction() -> None:
    raw = _s("nccl_all_reduce_1node_8xH100_ndv5_json_report_v2.19.json")
    d = parse_nccl(raw)
    assert d["status"] == "ok" and d["collective"] == "all_reduce" and d["ranks"] == 8
    assert d["peak_busbw_gbps"] == 480.902491 and d["rows"][0]["root"] == -1
    env = json.loads(raw)["env"]
    secret = next(e for e in env if not e.startswith(("NCCL_", "CUDA_")) and "=" in e)
    assert secret not in d["env"] and f"{secret.split('=')[0]}=<redacted>" in d["env"]
    assert redact_env(["NCCL_IB_HCA=mlx5_0", "AWS_SECRET=x"]) == [
        "NCCL_IB_HCA=mlx5_0",
        "AWS_SECRET=<redacted>",
    ]


@pytest.mark.parametrize(
    ("name", "test", "side", "device", "gdr", "bw"),
    [
        (
            "perftest_ib_write_bw_gdr_client_a100_all_sizes.txt",
            "ib_write_bw",
            "client",
            "mlx5_0",
            True,
            80.96,
        ),
        (
            "perftest_ib_write_bw_gdr_server_a100.txt",
            "ib_write_bw",
            "server",
            "mlx5_0",
            True,
            80.96,
        ),
        (
            "perftest_ib_write_bw_ib_client_cx6_all_sizes.txt",
            "ib_write_bw",
            "client",
            "mlx5_0",
            False,
            98.38,
        ),
        (
            "perftest_ib_read_bw_gdr_dmabuf_h100_roce_client_gpu0_to_gpu0.txt",
            "ib_read_bw",
            "client",
            "mlx5_2",
            True,
            162.18,
        ),
        (
            "perftest_ib_read_bw_gdr_dmabuf_h100_roce_server_gpu0.txt",
            "ib_read_bw",
            "server",
            "mlx5_2",
            True,
            162.18,
        ),
    ],
)
def test_perftest_bandwidth(
    name: str, test: str, side: str, device: str, gdr: bool, bw: float
) -> None:
    d = parse_perftest(_s(name))
    assert (d["status"], d["failure"]) == ("ok", None)
    assert (d["test"], d["side"], d["device"], d["gpu_direct"]) == (test, side, device, gdr)
    assert d["bw_avg_gbps"] == bw and d["report_gbits"]


def test_perftest_units_latency_and_errors() -> None:
    loop = parse_perftest(_s("perftest_ib_write_bw_loopback_interleaved_server_client.txt"))
    assert loop["side"] == "both" and not loop["report_gbits"]
    assert loop["rows"][0]["bw_avg_gbps"] == pytest.approx(
        5.30 * 8 * 2**20 / 1e9, abs=1e-5
    )  # MB/sec
    assert len({r["size_bytes"] for r in loop["rows"]}) == len(loop["rows"])
    lat = parse_perftest(_s("perftest_ib_send_lat_client_azure_hbv3_hdr_truncated.txt"))
    assert lat["test"] == "ib_send_lat" and lat["bw_avg_gbps"] is None
    assert lat["rows"][0]["t_typical_us"] > 0 and lat["lat_typical_us"] == 3.76
    assert lat["lat_p99_us"] == 3.92 and lat["failure"]["kind"] == "incomplete"  # author's "..."
    roce = parse_perftest(_s("perftest_ib_read_bw_gdr_dmabuf_h100_roce_client_gpu0_to_gpu0.txt"))
    assert roce["link_type"] == "Ethernet" and roce["gid_index"] == 3 and roce["dmabuf"]
    gdr = parse_perftest(_s("perftest_ib_write_bw_gdr_client_a100_all_sizes.txt"))
    assert gdr["cuda_device"] == 0 and gdr["cuda_pcie"] == "D5:00"
    slow = parse_perftest(_s("perftest_ib_write_bw_gdr_client_a100_all_sizes.txt"), expect_gbps=180)
    assert slow["failure"]["kind"] == "performance"
    err = parse_perftest(
        " Completion with error at client\n Couldn't allocate MR\n Failed to complete run_iter_bw"
    )
    assert err["failure"] == {"kind": "startup", "message": "Couldn't allocate MR"}
    assert parse_perftest("")["failure"]["kind"] == "incomplete"
    # copied without perftest's closing rule: the numbers read, the run is not known to be done
    cut = parse_perftest(_s("perftest_ib_write_bw_ib_server_cx6.txt"))
    assert (cut["test"], cut["side"], cut["device"], cut["bw_avg_gbps"]) == (
        "ib_write_bw",
        "server",
        "mlx5_0",
        98.38,
    )
    assert cut["failure"] == {
        "kind": "incomplete",
        "message": "the table stops without perftest's closing line",
    }


def test_auto_detects_nccl_and_perftest_samples() -> None:
    base = require_shared("samples")
    for f in sorted(base.glob("*")):
        if f.name.endswith(".source.txt"):
            continue
        if f.name.startswith("nccl_"):
            assert detect(f.read_text()) == "nccl", f.name
        elif f.name.startswith("perftest_"):
            assert detect(f.read_text()) == "perftest", f.name


def test_nccl_tag_output_prefixes_e_notation_and_noise_inside_the_table() -> None:
    text = "\n".join(
        [
            "[1,0]<stdout>:# nccl-tests version 2.19.6 nccl-headers=22304 nccl-library=22304",
            "[1,0]<stdout>:# Collective test starting: all_reduce_perf",
            "[1,0]<stdout>:#  Rank  0 Group  0 Pid   7 on gpu01 device  0 [0000:18:00] NVIDIA H100",
            "[1,0]<stdout>:#  Rank  1 Group  0 Pid   8 on gpu02 device  0 [0000:18:00] NVIDIA H100",
            "[1,0]<stdout>:# size count type redop root time algbw busbw #wrong"
            " time algbw busbw #wrong",
            "[1,0]<stdout>:# (B) (elements) (us) (GB/s) (GB/s) (us) (GB/s) (GB/s)",
            "gpu01:7:9 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[0] [send] via NET/IB/0/GDRDMA",
            "[1,0]<stdout>: 17179869184 4294967296 float sum -1 1.2e+05 143.2 143.2 0"
            " 1.2e+05 143.1 143.1 0",
            "[1,0]<stdout>:# Out of bounds values : 0 OK",
            "[1,0]<stdout>:# Avg bus bandwidth    : 143.15",
        ]
    )
    d = parse_nccl(text)
    assert d["status"] == "ok" and d["ranks"] == 2 and d["collective"] == "all_reduce"
    assert d["rows"][0]["out_of_place"]["time_us"] == 1.2e05 and d["peak_busbw_gbps"] == 143.2
    assert [x["host"] for x in d["devices"]] == ["gpu01", "gpu02"]
