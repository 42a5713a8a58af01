"""nccl-tests text as real runs break it: a failure printed on a row's own line, per-iteration
and timestamp columns (nccl-tests 2.19), NCCL WARN lines named as a cause, Open MPI 4/5 and
Slurm aborts, NaN/inf in any column, `#wrong` of any value. The inputs follow the printf
formats of nccl-tests' util.cu/common.h and NCCL's debug prefix; the real outputs of each
class are golden cases under tests/facts/nccl/."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aictl.cli.app import app
from aictl.facts.model import FailureKind
from aictl.facts.nccl import parse_nccl
from aictl.facts.registry import detect

HEAD = [
    "# nccl-tests version 2.19.6 nccl-headers=22807 nccl-library=22807",
    "# Collective test starting: all_reduce_perf",
    "# nThread 1 nGpus 1 minBytes 8 maxBytes 1048576 step: 2(factor) warmup iters: 1 iters: 20"
    " agg iters: 1 validation: 1 graph: 0 unalign: 0",
    "#",
    "# Using devices",
    "#  Rank  0 Group  0 Pid   4711 on     gpu01 device  0 [0000:18:00] NVIDIA H100 80GB HBM3",
    "#  Rank  1 Group  0 Pid   4712 on     gpu02 device  0 [0000:18:00] NVIDIA H100 80GB HBM3",
    "#",
    "#                                                              out-of-place"
    "                       in-place          ",
    "#       size         count      type   redop    root     time   algbw   busbw  #wrong"
    "     time   algbw   busbw  #wrong ",
    "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)        "
    "     (us)  (GB/s)  (GB/s)         ",
]
ROWS = [
    "           8             2     float     sum      -1    18.52    0.00    0.00       0"
    "    18.10    0.00    0.00       0",
    "     1048576        262144     float     sum      -1    60.11   17.44   17.44       0"
    "    59.87   17.51   17.51       0",
]
FOOT = [
    "# Out of bounds values : 0 OK",
    "# Avg bus bandwidth    : 8.7375 ",
    "#",
    "# Collective test concluded: all_reduce_perf",
]


def _run(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_a_clean_run_reads_its_library_version() -> None:
    r = parse_nccl(_run(*HEAD, *ROWS, *FOOT))
    assert r.ok and r.nccl_version == "2.28.7" and r.version == "2.19.6"
    assert [row.size_bytes for row in r.rows] == [8, 1048576] and r.peak_busbw_gbps == 17.51


def test_a_failure_on_the_row_line_names_the_cause_host_and_size() -> None:
    glued = (
        "     1048576        262144     float     sum      -1gpu02: Test NCCL failure"
        " common.cu:1161 'remote process exited or there was a network error / NET/IB :"
        " Got completion from peer 10.78.2.12<39563> with status=12 opcode=0 len=0"
        " vendor err 129 (Recv)'"
    )
    r = parse_nccl(_run(*HEAD, ROWS[0], glued, " .. gpu02 pid 4712: Test failure common.cu:412"))
    assert r.failure is not None and r.failure.kind is FailureKind.NETWORK
    assert r.failure.host == "gpu02" and r.failure.message.endswith("at 1048576 bytes")
    assert r.failed_at == (1048576,) and len(r.rows) == 1


@pytest.mark.parametrize(
    ("warn", "kind"),
    [
        (
            "NET/IB : Got completion from peer 10.78.2.12<45678> with status=12 opcode=0 len=0 "
            "vendor err 129 (Recv) localGid ::ffff:10.78.1.11 remoteGidsfe80::1",
            FailureKind.NETWORK,
        ),
        ("NET/IB : Got completion with error 12, opcode 0, len 0, vendor err 129", "network"),
        ("Net : Connection closed by remote peer gpu02<51234>", FailureKind.NETWORK),
        ("Cuda failure 'an illegal memory access was encountered'", FailureKind.GPU),
        (
            "Error: failed to extend /dev/shm/nccl-0f2k8s to 9637892 bytes, error: "
            "No space left on device (28)",
            FailureKind.SYSTEM,
        ),
        ("Call to ibv_reg_mr failed with error Cannot allocate memory", FailureKind.SYSTEM),
    ],
)
def test_nccl_warn_lines_name_the_failure(warn: str, kind: str) -> None:
    """A run that broke after NCCL warned: the warning is the cause, its host the suspect."""
    text = _run(
        *HEAD,
        ROWS[0],
        f"gpu02:4712:4790 [0] transport/net_ib.cc:1696 NCCL WARN {warn}",
        "gpu02: Test NCCL failure common.cu:1161 'unhandled system error (run with"
        " NCCL_DEBUG=INFO for details) / '",
        " .. gpu02 pid 4712: Test failure common.cu:412",
    )
    r = parse_nccl(text)
    assert r.failure is not None and r.failure.kind == kind, r.failure
    assert r.failure.host == "gpu02" and warn[:20] in r.failure.message
    assert r.warnings and r.warnings[0].startswith("gpu02: ")


def test_warnings_of_a_run_that_finished_are_kept_not_failed() -> None:
    text = _run(
        *HEAD[:8],
        "gpu01:4711:4711 [0] NCCL INFO NET/Plugin: Could not find: libnccl-net.so.",
        "gpu01:4711:4790 [0] init.cc:412 NCCL WARN NET/IB : mlx5_2:1 is not active, skipping",
        *HEAD[8:],
        *ROWS,
        *FOOT,
    )
    r = parse_nccl(text)
    assert r.ok and r.warnings == ("gpu01: NET/IB : mlx5_2:1 is not active, skipping",)


@pytest.mark.parametrize(
    ("tail", "host"),
    [
        # Open MPI 4
        (
            [
                "-" * 74,
                "mpirun noticed that process rank 1 with PID 4712 on node gpu02 exited on "
                "signal 9 (Killed).",
                "-" * 74,
            ],
            "gpu02",
        ),
        (
            [
                "Primary job  terminated normally, but 1 process returned",
                "a non-zero exit code. Per user-direction, the job has been aborted.",
                "mpirun detected that one or more processes exited with non-zero status, thus "
                "causing",
                "  Process name: [[38497,1],1]",
                "  Exit code:    3",
            ],
            "",
        ),
        # Open MPI 5 (PRRTE)
        (
            [
                "prterun noticed that process rank 1 with PID 0 on node gpu02 exited on signal "
                "11 (Segmentation fault).",
            ],
            "gpu02",
        ),
        # Slurm
        (["srun: error: gpu02: task 1: Killed", "srun: Terminating StepId=77.0"], "gpu02"),
    ],
)
def test_a_rank_dying_mid_table_is_aborted_with_its_node(tail: list[str], host: str) -> None:
    r = parse_nccl(_run(*HEAD, ROWS[0], *tail))
    assert r.failure is not None and r.failure.kind is FailureKind.ABORTED, r.failure
    assert r.failure.host == host and "after 8 bytes" in r.failure.message


def test_an_abort_before_the_header_is_a_launch_failure() -> None:
    text = _run(
        "--------------------------------------------------------------------------",
        "prterun was unable to launch the specified application as it could not access",
        "or execute an executable:",
        "Executable: /opt/nccl-tests/build/all_reduce_perf",
    )
    r = parse_nccl(text)
    assert r.failure is not None and r.failure.kind is FailureKind.LAUNCH
    assert r.failure.message.startswith("prterun was unable")


def test_nccl_tests_own_timeout_names_the_host() -> None:
    r = parse_nccl(_run(*HEAD, ROWS[0], "gpu01: Test timeout (30s) common.cu:523"))
    assert r.failure is not None and r.failure.kind is FailureKind.TIMEOUT
    assert r.failure.host == "gpu01"


@pytest.mark.parametrize("col", range(8))
@pytest.mark.parametrize("bad", ["nan", "-nan", "inf", "-inf"])
def test_nan_or_inf_in_any_column_is_a_failed_run(col: int, bad: str) -> None:
    tok = ROWS[1].split()
    tok[5 + col] = bad
    r = parse_nccl(_run(*HEAD, ROWS[0], "  ".join(tok), *FOOT))
    assert r.failure is not None and r.failure.kind is FailureKind.CORRECTNESS
    assert r.peak_busbw_gbps is not None and r.peak_busbw_gbps < 100


@pytest.mark.parametrize(
    ("wrong", "count", "ok"),
    [("0", 0, True), ("N/A", 0, True), ("17", 17, False), ("1.04858e+06", 1048580, False)],
)
def test_wrong_columns_of_any_value(wrong: str, count: int, ok: bool) -> None:
    tok = ROWS[1].split()
    tok[8] = wrong
    r = parse_nccl(_run(*HEAD, ROWS[0], "  ".join(tok), *FOOT))
    assert r.ok is ok and r.rows[1].wrong == count


def test_per_iteration_columns_and_timestamps() -> None:
    """`-I 1` adds i_min i_max i_p99 i_cv% to each half; `-S 1` a trailing timestamp."""
    head = [
        *HEAD[:8],
        "#                                             out-of-place (+ per-iteration)"
        "                                in-place (+ per-iteration)",
        "#       size         count      type   redop    root     time   algbw   busbw  #wrong"
        "    i_min    i_max    i_p99    i_cv%     time   algbw   busbw  #wrong    i_min"
        "    i_max    i_p99    i_cv%           timestamp",
        "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)       "
        "     (us)     (us)     (us)      (%)     (us)  (GB/s)  (GB/s)          (us)     (us)"
        "     (us)      (%) %Y-%m-%d %H:%M:%S",
    ]
    row = (
        "     1048576        262144     float     sum      -1    60.11   17.44   17.44       0"
        "    58.20    71.90    70.02     4.12    59.87   17.51   17.51       0    58.01    "
        "66.40    65.93     3.50  2026-12-01 10:11:12"
    )
    r = parse_nccl(_run(*head, row, *FOOT))
    assert r.ok, r.failure
    (got,) = r.rows
    assert got.out_of_place.busbw_gbps == 17.44 and got.in_place.time_us == 59.87
    assert got.in_place.busbw_gbps == 17.51 and got.wrong == 0 and got.root == -1


def test_device_api_options_and_an_error_line_after_the_footer() -> None:
    text = _run(
        *HEAD[:3],
        "# Blocking Enabled: wait and barrier after each outer iteration (-n); time excludes"
        " barrier ",
        *HEAD[3:],
        *ROWS,
        *FOOT,
        "# GPU memory usage     : Init 515.00 MB | Buffers 6.00 MB | Total  521.00 MB",
        "# error: NET/IB : Got async event : port error",
    )
    r = parse_nccl(text)
    assert r.ok and r.params["unalign"] == 0 and r.params["agg_iters"] == 1
    assert r.warnings == ("NET/IB : Got async event : port error",)


@pytest.mark.parametrize(
    "prog",
    ["gather", "scatter", "broadcast", "reduce", "hypercube", "alltoallv", "reduce_scatter"],
)
def test_every_collective_is_named_and_recognised(prog: str) -> None:
    text = _run(
        "# nccl-tests version 2.19.6 nccl-headers=22807 nccl-library=22807",
        f"# Collective test starting: {prog}_perf",
    )
    assert parse_nccl(text).collective == prog
    assert detect(text) == "nccl"


def test_an_excerpt_without_the_footer_is_a_timeout_not_a_pass() -> None:
    r = parse_nccl(_run(*HEAD, *ROWS))
    assert r.failure is not None and r.failure.kind is FailureKind.TIMEOUT
    # and a row cut at any byte is a cut row, never a number
    for i in range(1, len(ROWS[1])):
        cut = parse_nccl("\n".join([*HEAD, ROWS[0], ROWS[1][:i]]))
        assert not cut.ok and all(x.busbw_gbps != 17.51 for x in cut.rows)


def test_accept_parse_names_the_tool_lists_what_it_tried_and_bounds_the_table(
    tmp_path: Path,
) -> None:
    big = tmp_path / "soak.txt"
    many = [ROWS[1]] * 20000
    big.write_text(_run(*HEAD, *many, *FOOT))
    r = CliRunner().invoke(app, ["accept", "parse", str(big)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == f"{big}: recognised as nccl: ok"
    assert len(lines) < 40 and max(map(len, lines)) <= 200
    assert any(ln.startswith("  rows: 20000 items: ") for ln in lines)
    # --tool forces a parser, and says so
    r = CliRunner().invoke(app, ["accept", "parse", str(big), "--tool", "nccl"])
    assert r.stdout.startswith(f"{big}: read as nccl: ok")
    junk = tmp_path / "junk.txt"
    junk.write_text("nothing any tool prints\n")
    r = CliRunner().invoke(app, ["accept", "parse", str(junk)])
    assert r.exit_code == 2 and "output not recognised (tried perftest, nccl," in r.stderr
    assert "--tool" in r.stderr and "Traceback" not in r.output
