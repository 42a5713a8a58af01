"""The lab's simulated tools print the structure of the real tools' outputs (checked
against the real samples where ../shared is present) and follow the hardware JSON."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from aictl.lab import simtools
from aictl.lab.hardware import FAULT_KINDS, apply_fault, node_hardware
from aictl.spec.loader import load_preset
from aictl.topology import build_topology
from tests.conftest import require_shared


def hw(preset: str = "lab-small") -> dict[str, Any]:
    loaded = load_preset(preset)
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    return node_hardware(topo, topo.nodes[0])


def run_tool(tool: str, args: list[str], data: dict[str, Any], tmp_path: Path) -> str:
    f = tmp_path / "hardware.json"
    f.write_text(json.dumps(data))
    buf = io.StringIO()
    simtools.HW_FILE = str(f)
    with contextlib.redirect_stdout(buf):
        assert simtools.main([f"/usr/local/bin/{tool}", *args]) in (0, 3)
    return buf.getvalue()


def test_every_output_is_marked_simulated(tmp_path: Path) -> None:
    data = hw()
    for tool, args in (
        ("nvidia-smi", ["topo", "-m"]),
        ("nvidia-smi", ["-q"]),
        ("nvidia-smi", ["nvlink", "-s"]),
        ("ibstat", []),
        ("ibv_devinfo", []),
        ("ibdev2netdev", []),
        ("show_gids", []),
        ("lspci", ["-vvv"]),
    ):
        out = run_tool(tool, args, data, tmp_path)
        assert out.startswith(f"# aictl-lab: simulated {tool} output (node01)"), tool
    xml = run_tool("nvidia-smi", ["-q", "-x"], data, tmp_path)
    assert "aictl-lab: simulated nvidia-smi output" in xml
    import xml.etree.ElementTree as ET

    ET.fromstring(xml.split("\n", 1)[1].split("\n", 1)[1])  # well-formed after the comment


def _keys(text: str) -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^\s*([A-Za-z][\w /]+):", text, re.M)}


@pytest.mark.parametrize(
    ("tool", "args", "sample"),
    [
        ("ibstat", ["mlx5_0"], "ibstat_h100_roce_all_active.txt"),
        ("ibv_devinfo", ["-d", "mlx5_0"], "ibv_devinfo_cx7_roce_mlx5_0.txt"),
    ],
)
def test_hca_tools_have_the_real_fields(
    tool: str, args: list[str], sample: str, tmp_path: Path
) -> None:
    real = (require_shared("samples") / sample).read_text()
    ours = run_tool(tool, args, hw(), tmp_path)
    assert _keys(real) <= _keys(ours) | {"Hardware version"}
    # same tab layout for the per-port lines
    assert "\t\tState: Active" in ours if tool == "ibstat" else "\t\t\tstate:" in ours


def test_topo_matrix_layout_matches_the_new_format(tmp_path: Path) -> None:
    real = (require_shared("samples") / "nvidia_smi_topo_m_hgx_h100_12nic_roce.txt").read_text()
    ours = run_tool("nvidia-smi", ["topo", "-m"], hw(), tmp_path)
    head_real = next(ln for ln in real.splitlines() if ln.startswith("\tGPU0"))
    head_ours = next(ln for ln in ours.splitlines() if ln.startswith("\tGPU0"))
    assert head_real.split("\t")[-3:] == head_ours.split("\t")[-3:]
    assert "NIC Legend:" in ours and "  NIC0: mlx5_0" in ours
    gpu0 = next(ln for ln in ours.splitlines() if ln.startswith("GPU0\t")).split("\t")
    # GPU0 and GPU1 share mlx5_0's PCIe switch in the A800 spec
    assert gpu0[9] == "PIX" and gpu0[10] != "PIX"


def test_show_gids_and_ibdev2netdev_shapes(tmp_path: Path) -> None:
    roce = hw("roce-h100-256")
    gids = run_tool("show_gids", ["mlx5_0"], roce, tmp_path)
    real = (require_shared("samples") / "show_gids_cx7_roce_mlx5_0.txt").read_text()
    assert [ln.split("\t")[0] for ln in gids.splitlines()[1:3]] == [
        ln.split("\t")[0] for ln in real.splitlines()[1:3]
    ]
    row3 = gids.splitlines()[6].split("\t")
    assert row3[2] == "3" and row3[5] == "v2" and row3[4].strip() == roce["nics"][0]["ip"]
    assert gids.rstrip().endswith("n_gids_found=4")
    lines = run_tool("ibdev2netdev", [], hw(), tmp_path).splitlines()[1:]
    assert all(re.fullmatch(r"mlx5_\d+ port 1 ==> \S+ \((Up|Down)\)", ln) for ln in lines)


def test_faults_show_in_the_tools(tmp_path: Path) -> None:
    assert set(FAULT_KINDS) >= {
        "slow-nic",
        "port-down",
        "swap-cables",
        "pcie-degraded",
        "peermem-missing",
        "fabricmanager-stopped",
        "ecc-errors",
        "sshd-down",
    }
    data = hw()
    apply_fault(data, {"kind": "port-down", "rail": 1})
    apply_fault(data, {"kind": "pcie-degraded", "gpu": 3})
    apply_fault(data, {"kind": "ecc-errors", "gpu": 2})
    apply_fault(data, {"kind": "peermem-missing"})
    apply_fault(data, {"kind": "fabricmanager-stopped"})
    ib = run_tool("ibstat", ["mlx5_1"], data, tmp_path)
    assert "State: Down" in ib and "Physical state: Polling" in ib
    assert "PORT_DOWN (1)" in run_tool("ibv_devinfo", ["-d", "mlx5_1"], data, tmp_path)
    q = run_tool("nvidia-smi", ["-q"], data, tmp_path)
    assert q.count("Current                   : 8x") == 1
    assert "Double Bit ECC                    : 2" in q
    lspci = run_tool("lspci", ["-vvv"], data, tmp_path)
    assert "Width x8 (downgraded)" in lspci
    assert "nvidia_peermem" not in run_tool("lsmod", [], data, tmp_path)
    assert (
        run_tool("systemctl", ["is-active", "nvidia-fabricmanager"], data, tmp_path).strip()
        == "inactive"
    )
    assert "Fabric" in q and "Not Started" in q


def test_perftest_layout_matches_the_real_tool() -> None:
    real = (
        (require_shared("samples") / "perftest_ib_write_bw_ib_client_cx6_all_sizes.txt")
        .read_text()
        .splitlines()
    )
    nic = hw()["nics"][0]
    ours = simtools._perf_header("ib_write_bw", nic, 1, 3, 4, server=False)
    keys = {ln.split(":")[0].strip() for ln in real[1:14] if ":" in ln}
    assert keys <= {ln.split(":")[0].strip() for ln in ours if ":" in ln}
    assert ours[0] == real[1] and ours[1] == real[2]  # dashes and the centred title
    assert simtools._units(True) == real[17]
    row = simtools._row(8388608, 5000, 98.38, True)
    assert row.split() == [*real[-2].split()[:2], "98.38", "98.38", "0.001466"]
    assert "\t\t" in row  # the real rows carry TABs before MsgRate


def test_nccl_report_layout_matches_the_real_tool(tmp_path: Path) -> None:
    real = (
        (require_shared("samples") / "nccl_all_reduce_2node_2xGH200_v2.18.2_newest_format.txt")
        .read_text()
        .splitlines()
    )
    loaded = load_preset("lab-small")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    from aictl.lab.hardware import fabric_description

    fab = tmp_path / "fabric.json"
    fab.write_text(json.dumps(fabric_description(topo)))
    simtools.FABRIC_FILE = str(fab)
    ranks = [
        {"rank": 0, "host": "node01", "pid": 11, "local": 0},
        {"rank": 1, "host": "node05", "pid": 12, "local": 0},
    ]
    buf = io.StringIO()
    args = ["-b", "1M", "-e", "128M", "-f", "2"]
    with contextlib.redirect_stdout(buf):
        print("\n".join(simtools._nccl_header("all_reduce_perf", args, 1, hw())))
        code = simtools._nccl_report("all_reduce_perf", "all_reduce", "sum", args, ranks, 1, hw())
    assert code == 0
    ours = buf.getvalue().splitlines()
    for prefix in ("#       size", "#        (B)", "#  ", "# Out of bounds", "# Avg bus"):
        theirs = next(ln for ln in real if ln.startswith(prefix))
        mine = next(ln for ln in ours if ln.startswith(prefix))
        assert mine.split()[:3] == theirs.split()[:3], prefix
    assert (
        next(ln for ln in ours if ln.startswith("#       size")).split()
        == next(ln for ln in real if ln.startswith("#       size")).split()
    )
    rows_real = [ln for ln in real if re.match(r"^\s+\d+\s+\d+\s+float", ln)]
    rows_ours = [ln for ln in ours if re.match(r"^\s+\d+\s+\d+\s+float", ln)]
    assert len(rows_ours) == len(rows_real) == 8
    assert [len(r.split()) for r in rows_ours] == [len(r.split()) for r in rows_real]
    assert [r.split()[0] for r in rows_ours] == [r.split()[0] for r in rows_real]
    assert "# Collective test concluded: all_reduce_perf" in ours
    assert ours[1].startswith("# nccl-tests version ")


def _mixed(node: str) -> dict[str, Any]:
    loaded = load_preset("mixed-lab")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    return node_hardware(topo, topo.node(node))


def _tool(tool: str, args: list[str], data: dict[str, Any], tmp: Path) -> tuple[int, str]:
    f = tmp / "hardware.json"
    f.write_text(json.dumps(data))
    simtools.HW_FILE = str(f)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = simtools.main([f"/usr/local/bin/{tool}", *args])
    return code, out.getvalue() + err.getvalue()


def test_the_simulated_tools_refuse_what_the_real_ones_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4-GPU node: nccl-tests -g 8, GPU 4, a device it does not have all fail the way the
    real tools fail (so the lab catches a launcher that uses another node's profile)."""
    from aictl.facts.nccl import parse_nccl
    from aictl.facts.perftest import parse_perftest
    from aictl.lab.hardware import fabric_description

    four = _mixed("node05")
    assert len(four["gpus"]) == 4 and four["nics"][0]["dev"] == "mlx5_4"
    loaded = load_preset("mixed-lab")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    (tmp_path / "fabric.json").write_text(json.dumps(fabric_description(topo)))
    monkeypatch.setattr(simtools, "SHARED", str(tmp_path))
    monkeypatch.setattr(simtools, "FABRIC_FILE", str(tmp_path / "fabric.json"))
    monkeypatch.setattr("socket.gethostname", lambda: "node05")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "1")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "0")
    monkeypatch.setenv("OMPI_MCA_ess_base_jobid", "j1")
    code, out = _tool("all_reduce_perf", ["-b", "8M", "-e", "8M", "-g", "8"], four, tmp_path)
    parsed = parse_nccl(out)
    assert code == 2 and "node05: Test CUDA failure common.cu:" in out
    assert "'invalid device ordinal'" in out
    assert parsed.failure is not None and parsed.failure.kind == "startup"
    monkeypatch.setenv("OMPI_MCA_ess_base_jobid", "j2")
    code, out = _tool("all_reduce_perf", ["-b", "8M", "-e", "8M", "-g", "4"], four, tmp_path)
    assert code == 0 and parse_nccl(out).ok and "device  3" in out
    # the fifth GPU, and a rail device of the other node group
    code, out = _tool("ib_write_bw", ["-d", "mlx5_4", "--use_cuda=4", "-F"], four, tmp_path)
    assert code == 1 and "No such device ID (4) exists in system" in out
    assert parse_perftest(out).failure is not None
    code, out = _tool("ib_write_bw", ["-d", "mlx5_0", "-F"], four, tmp_path)
    assert code == 1 and "IB device mlx5_0 not found" in out
    assert parse_perftest(out).failure is not None
    code, out = _tool("nvidia-smi", ["nvlink", "-s", "-i", "4"], four, tmp_path)
    assert code == 6 and "No devices were found" in out
    # the 8-GPU group still takes -g 8
    eight = _mixed("node01")
    monkeypatch.setattr("socket.gethostname", lambda: "node01")
    monkeypatch.setenv("OMPI_MCA_ess_base_jobid", "j3")
    code, out = _tool("all_reduce_perf", ["-b", "8M", "-e", "8M", "-g", "8"], eight, tmp_path)
    assert code == 0 and parse_nccl(out).ok


def test_nvlink_down_lowers_the_node_and_shows_in_nvidia_smi(tmp_path: Path) -> None:
    from aictl.facts.gpu import parse_nvlink
    from aictl.lab import fabricmodel
    from aictl.lab.hardware import fabric_description

    loaded = load_preset("mixed-lab")
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    fab = fabric_description(topo)
    clean = fabricmodel.collective_busbw(fab, ["node06"], "all_reduce")
    fault = {"kind": "nvlink-down", "host": "node06", "gpu": 1, "factor": 4, "rail": None}
    fab["faults"] = [fault]
    slow = fabricmodel.collective_busbw(fab, ["node06"], "all_reduce")
    assert isinstance(clean, float) and isinstance(slow, float)
    assert slow == pytest.approx(clean * 14 / 18)
    data = _mixed("node06")
    apply_fault(data, {**fault, "with": None})
    code, out = _tool("nvidia-smi", ["nvlink", "-s"], data, tmp_path)
    gpus = parse_nvlink(out).gpus
    assert code == 0 and [(g.links_active, g.links_total) for g in gpus][:2] == [(18, 18), (14, 18)]


@pytest.mark.parametrize(
    ("env", "want"),
    [
        # mpirun (Open MPI)
        (
            {
                "OMPI_COMM_WORLD_RANK": "3",
                "OMPI_COMM_WORLD_SIZE": "4",
                "OMPI_COMM_WORLD_LOCAL_RANK": "1",
                "PMIX_NAMESPACE": "prterun-x@1",
            },
            (3, 4, 1, "prterun-x@1"),
        ),
        # srun --mpi=pmi2: PMI-2's rank and size, the step names the job
        (
            {
                "SLURM_JOB_ID": "7",
                "SLURM_STEP_ID": "0",
                "PMI_RANK": "5",
                "PMI_SIZE": "12",
                "SLURM_PROCID": "5",
                "SLURM_NTASKS": "12",
                "SLURM_LOCALID": "5",
            },
            (5, 12, 5, "slurm-7.0"),
        ),
        # srun without an MPI plugin: the step's own numbers
        (
            {
                "SLURM_JOB_ID": "8",
                "SLURM_STEP_ID": "1",
                "SLURM_PROCID": "1",
                "SLURM_NTASKS": "2",
                "SLURM_LOCALID": "0",
            },
            (1, 2, 0, "slurm-8.1"),
        ),
    ],
)
def test_nccl_ranks_learn_their_place_from_the_launcher(
    env: dict[str, str], want: tuple[int, int, int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    for k in list(os.environ):
        if k.startswith(("OMPI_", "PMI", "SLURM_")):
            monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert simtools._mpi_rank() == want


@pytest.mark.parametrize("preset", ["lab-small", "mixed-vendor-lab"])
def test_the_last_gpu_going_missing_renumbers_every_vendor_s_node(preset: str) -> None:
    """gpu-missing on the last GPU leaves the others renumbered, on every node of the plan
    (the vendor's part of a fault then indexes what is left)."""
    loaded = load_preset(preset)
    topo = build_topology(loaded.spec, spec_sha256=loaded.sha256)
    for node in topo.nodes:
        data = node_hardware(topo, node)
        n = len(data["gpus"])
        apply_fault(data, {"kind": "gpu-missing", "gpu": n - 1})
        assert [g["index"] for g in data["gpus"]] == list(range(n - 1)), node.name


def test_the_lab_s_ethtool_and_mlnx_qos_print_the_rails_roce_state(tmp_path: Path) -> None:
    """On RoCE host rails: `ethtool -S` counters and `mlnx_qos -i` as rendered; a fault
    changes them, and `mlnx_qos --trust/--pfc` sets them as aictl-roce-qos does."""
    from aictl.facts.roce import parse_roce

    data = hw("roce-h100-256")
    netdev = data["nics"][1]["netdev"]
    apply_fault(data, {"kind": "roce-pause", "rail": 1})
    stats = run_tool("ethtool", ["-S", netdev], data, tmp_path)
    assert stats.startswith("# aictl-lab: simulated ethtool output")
    assert "     rx_prio0_pause: 18234" in stats.splitlines()
    qos = run_tool("mlnx_qos", ["-i", netdev], data, tmp_path)
    state = parse_roce(f"## netdev {netdev}\n{stats}{qos}")
    assert state.nics[0].trust == "dscp" and state.nics[0].pfc == (3,)
    assert state.nics[0].counters["rx_prio0_pause"] == 18234
    run_tool(
        "mlnx_qos", ["-i", netdev, "--trust", "pcp", "--pfc", "0,0,0,0,1,0,0,0"], data, tmp_path
    )
    again = run_tool(
        "mlnx_qos", ["-i", netdev], json.loads((tmp_path / "hardware.json").read_text()), tmp_path
    )
    assert "Priority trust state: pcp" in again
    assert parse_roce(f"## netdev {netdev}\n{again}").nics[0].pfc == (4,)
