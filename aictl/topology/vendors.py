"""What each accelerator vendor brings, as data: its tools, stack, collective library,
benchmark, GPUDirect probe and Kubernetes resource.

Every room that acts per vendor (checks, acceptance, render, provision, the lab, the report)
keys its own adapter on `Accelerators.vendor`; the facts they share about a vendor live here,
once, so the report's per-vendor table and the code that runs cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VendorInfo:
    """One accelerator vendor."""

    name: str  # the spec's `gpu.vendor`
    label: str  # how people write it
    accelerator: str  # GPU, NPU, XPU
    smi: str  # the inventory and health tool
    collective: str  # the collective library (RCCL reads NCCL_* variables)
    benchmark: str  # the collective benchmark suite
    # perftest's GPU-memory flag (GPUDirect RDMA); None: perftest cannot reach its memory
    gdr_flag: str | None
    # the device plugin's resource name
    k8s_resource: str
    # the default scale-up interconnect, and what the vendor calls it
    scale_up: str
    scale_up_label: str
    # the parts of the stack preflight reports, in order
    stack: tuple[str, ...]
    # what the GPUDirect-style probe is, in words (the report says it)
    probe: str
    # what to look at when GPUDirect does not run at all
    gdr_hint: str = ""


VENDORS: dict[str, VendorInfo] = {
    "nvidia": VendorInfo(
        "nvidia",
        "NVIDIA",
        "GPU",
        "nvidia-smi",
        "NCCL",
        "nccl-tests",
        "--use_cuda",
        "nvidia.com/gpu",
        "nvswitch",
        "NVLink",
        ("driver", "cuda", "ofed"),
        "perftest ib_write_bw --use_cuda (GPUDirect RDMA)",
        "is nvidia-peermem loaded?",
    ),
    "amd": VendorInfo(
        "amd",
        "AMD Instinct",
        "GPU",
        "amd-smi",
        "RCCL",
        "rccl-tests",
        "--use_rocm",
        "amd.com/gpu",
        "xgmi",
        "xGMI",
        ("driver", "rocm", "ofed"),
        "perftest ib_write_bw --use_rocm (ROCm peer memory)",
        "is amdgpu loaded with peer memory for the RDMA stack, and perftest built with ROCm?",
    ),
    "huawei": VendorInfo(
        "huawei",
        "Huawei Ascend",
        "NPU",
        "npu-smi",
        "HCCL",
        "hccl_test",
        None,
        "huawei.com/Ascend910",
        "hccs",
        "HCCS",
        ("driver", "firmware", "cann"),
        "hccn_tool link, health and NPU-to-NPU ping per port (no perftest: the NPU's "
        "integrated ports are not host RDMA devices)",
    ),
    "kunlunxin": VendorInfo(
        "kunlunxin",
        "Kunlunxin",
        "XPU",
        "xpu_smi",
        "BKCL",
        "none",
        None,
        "kunlunxin.com/xpu",
        "xpu-link",
        "XPU Link",
        ("driver", "runtime"),
        "inventory only (xpu_smi); no collective benchmark is run yet",
    ),
}


def vendor(name: str) -> VendorInfo:
    """The vendor called `name` (NVIDIA for a name aictl does not know: plans written before
    vendors were spelled out are NVIDIA's)."""
    return VENDORS.get(name, VENDORS["nvidia"])


def default_scale_up(vendor_name: str, nvswitch: bool, gbytes: float | None) -> str:
    """The interconnect a profile has when the spec does not say: the vendor's; for NVIDIA
    NVSwitch, else direct NVLink when it has an NVLink figure, else none (PCIe)."""
    if vendor_name == "nvidia":
        return "nvswitch" if nvswitch else ("nvlink" if gbytes else "pcie")
    return vendor(vendor_name).scale_up


def benchmark_args(
    vendor_name: str, collective: str, sizes: tuple[str, str, str], per: int, *, check: bool
) -> list[str]:
    """A collective benchmark's command line, as every launcher spells it: nccl-tests and
    rccl-tests (`<c>_perf`, `-g` GPUs per process) or hccl_test (`<c>_test`, `-p` NPUs per
    node, fp32 sum); `check` turns the benchmark's own correctness check on."""
    lo, hi, f = sizes
    if vendor_name == "huawei":
        args = [f"{collective}_test", "-b", lo, "-e", hi, "-f", f, "-d", "fp32", "-o", "sum"]
        args += ["-p", str(per)]
    else:
        args = [f"{collective}_perf", "-b", lo, "-e", hi, "-f", f, "-g", str(per)]
    return args + (["-c", "1"] if check else [])
