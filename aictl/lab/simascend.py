#!/usr/bin/python3
"""Simulated Huawei Ascend tools for lab nodes (stdlib only: runs with the node's python3).

`npu-smi info` (`-t topo`, `-m`, `-l`), `hccn_tool` (per NPU port: `-ip`, `-netdetect`,
`-gateway` get and set, `-link`, `-net_health`, `-stat`, `-link_stat` get, `-ping -g address`)
and hccl_test (`all_reduce_test`, ...: ranks launched by mpirun meet in the lab's shared
directory, rank 0 prints hccl_test's table with numbers from the fabric model). Formats are
the real tools'; simtools.py dispatches here for a node whose `vendor` is huawei.

The NPU ports' addresses live where hccn_tool keeps them, the node's /etc/hccn.conf
(AICTL_HCCN_CONF): empty on a fresh lab node, written by `hccn_tool -i N -ip -s ...` (what
provisioning runs), so the lab shows whether provisioning configured the ports.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from typing import Any

MARK = "# aictl-lab: simulated {tool} output ({node})"
HCCN_CONF = os.environ.get("AICTL_HCCN_CONF", "/etc/hccn.conf")
# the lab's shared directory (this file sits in it): fabric.json, npu/, jobs/
SHARED = os.path.dirname(os.path.realpath(__file__))


def mark(tool: str, hw: dict[str, Any]) -> str:
    return MARK.format(tool=tool, node=hw["node"])


# ---- npu-smi ----------------------------------------------------------------------------
def npu_info(hw: dict[str, Any]) -> list[str]:
    """`npu-smi info` in the 24.x layout (one chip per NPU, Chip Phy-ID column)."""
    sep = "+" + "-" * 27 + "+" + "-" * 15 + "+" + "-" * 52 + "+"
    dbl = "+" + "=" * 27 + "+" + "=" * 15 + "+" + "=" * 52 + "+"
    version = hw["ascend"]["driver"]
    out = [
        "+" + "-" * 96 + "+",
        f"| npu-smi {version:<24} Version: {version:<53}|",
        sep,
        "| NPU   Name                | Health        | Power(W)    Temp(C)           "
        "Hugepages-Usage(page)|",
        "| Chip  Phy-ID              | Bus-Id        | AICore(%)   Memory-Usage(MB)  "
        "HBM-Usage(MB)        |",
        dbl,
    ]
    for g in hw["gpus"]:
        hbm = f"3400 / {g['hbm_total_mb']}"
        out.append(
            f"| {g['index']:<5} {g['model']:<19} | {g['health']:<13} | {'92.0':<11} "
            f"{'40':<17} {'0    / 0':<21}|"
        )
        out.append(
            f"| {g['chip']:<5} {g['phy_id']:<19} | {g['bdf']:<13} | {'0':<11} "
            f"{'0    / 0':<17} {hbm:<21}|"
        )
        out.append(dbl)
    out += [
        sep,
        "| NPU     Chip              | Process id    | Process name             | "
        "Process memory(MB)      |",
        dbl,
    ]
    for g in hw["gpus"]:
        out.append(f"| No running processes found in NPU {g['index']:<61}|")
        out.append(dbl)
    return out


def npu_topo(hw: dict[str, Any]) -> list[str]:
    """`npu-smi info -t topo`: HCCS between every pair (PXB where an NPU lost HCCS)."""
    gpus = hw["gpus"]
    out = ["\t   " + "".join(f"NPU{g['index']:<8}" for g in gpus) + "CPU Affinity"]
    for a in gpus:
        cells = []
        for b in gpus:
            if a is b:
                cells.append("X")
            else:
                cells.append("PXB" if a["hccs_down"] or b["hccs_down"] else "HCCS")
        cpus = "0-23" if a["numa"] == 0 else "96-119"
        out.append(f"NPU{a['index']:<8}" + "".join(f"{c:<11}" for c in cells) + cpus)
    out += [
        "",
        "Legend:",
        "",
        "  X    = Self",
        "  SYS  = Path traversing PCIe and NUMA nodes. Nodes are connected through SMP, such "
        "as QPI, UPI.",
        "  PHB  = Path traversing PCIe and the PCIe host bridge of a CPU.",
        "  PIX  = Path traversing a single PCIe switch",
        "  PXB  = Path traversing multiple PCIe switches",
        "  HCCS = Connection traversing HCCS.",
        "  NA   = Unknown relationship.",
    ]
    return out


def npu_smi(args: list[str], hw: dict[str, Any]) -> int:
    if args[:1] != ["info"]:
        print("Error: the aictl lab simulates npu-smi info only")
        return 2
    rest = args[1:]
    if rest[:2] == ["-t", "topo"]:
        lines = npu_topo(hw)
    elif rest[:1] == ["-m"]:
        lines = [
            f"{'NPU ID':<31}{'Chip ID':<31}{'Chip Logic ID':<31}Chip Name",
            *(
                f"{g['index']:<31}{g['chip']:<31}{g['index']:<31}Ascend {g['model']}"
                for g in hw["gpus"]
            ),
        ]
    elif rest[:1] == ["-l"]:
        lines = [f"\tTotal Count                    : {len(hw['gpus'])}", ""]
        for g in hw["gpus"]:
            lines += [
                f"\tNPU ID                         : {g['index']}",
                "\tProduct Name                   : IT21PDDA01",
                "\tSerial Number                  : 102394816AICTLLAB",
                "\tChip Count                     : 1",
                "",
            ]
    elif not rest:
        lines = npu_info(hw)
    else:
        print(f"Error: unknown option {rest[0]}")
        return 2
    print("\n".join([mark("npu-smi", hw), *lines]))
    return 0


# ---- hccn_tool --------------------------------------------------------------------------
def read_conf() -> dict[str, str]:
    """/etc/hccn.conf as hccn_tool keeps it: key_<device>=value lines."""
    try:
        with open(HCCN_CONF) as fh:
            text = fh.read()
    except OSError:
        return {}
    out = {}
    for ln in text.splitlines():
        k, sep, v = ln.partition("=")
        if sep and not ln.startswith("#"):
            out[k.strip()] = v.strip()
    return out


def write_conf(conf: dict[str, str]) -> None:
    def order(key: str) -> tuple[int, str]:
        head, _, dev = key.rpartition("_")
        return (int(dev) if dev.isdigit() else 0, head)

    tmp = HCCN_CONF + ".tmp"
    with open(tmp, "w") as fh:
        fh.write("".join(f"{k}={conf[k]}\n" for k in sorted(conf, key=order)))
    os.replace(tmp, HCCN_CONF)


def publish(hw: dict[str, Any], conf: dict[str, str]) -> None:
    """The node's NPU addresses in the lab's shared directory: what a peer's ping reaches
    (the wire, in the lab)."""
    d = os.path.join(SHARED, "npu")
    os.makedirs(d, exist_ok=True)
    addrs = {k.split("_", 1)[1]: v for k, v in conf.items() if k.startswith("address_")}
    tmp = os.path.join(d, f".{hw['node']}.json")
    with open(tmp, "w") as fh:
        json.dump(addrs, fh)
    os.replace(tmp, os.path.join(d, f"{hw['node']}.json"))


def _value(args: list[str], name: str) -> str | None:
    if name in args and args.index(name) + 1 < len(args):
        return args[args.index(name) + 1]
    return None


def hccn_tool(args: list[str], hw: dict[str, Any]) -> int:
    """hccn_tool -i <device> -<op> -g|-s ... (the real tool prints no marker line: its
    outputs are parsed after the command line that printed them; the lab's marker goes on
    stderr so it cannot be mistaken for a field)."""
    dev_text = _value(args, "-i")
    ports = {p["device"]: p for p in hw["npu_ports"]}
    if dev_text is None or not dev_text.isdigit() or int(dev_text) not in ports:
        print(f"Get device id failed, device id {dev_text} is invalid.")
        return 1
    dev = int(dev_text)
    port = ports[dev]
    op = next((a[1:] for a in args if a.startswith("-") and a not in ("-i", "-g", "-s")), "")
    setting = "-s" in args
    print(mark("hccn_tool", hw), file=sys.stderr)
    conf = read_conf()
    if setting:
        if op == "ip":
            addr, mask = _value(args, "address"), _value(args, "netmask")
            if addr is None or mask is None:
                print("Parameter error: address and netmask are needed")
                return 1
            conf[f"address_{dev}"], conf[f"netmask_{dev}"] = addr, mask
        elif op == "netdetect":
            addr = _value(args, "address")
            if addr is None:
                print("Parameter error: address is needed")
                return 1
            conf[f"netdetect_{dev}"] = addr
        elif op == "gateway":
            gw = _value(args, "gateway")
            if gw is None:
                print("Parameter error: gateway is needed")
                return 1
            conf[f"gateway_{dev}"] = gw
        else:
            print(f"Unsupported command: -{op} -s")
            return 1
        write_conf(conf)
        publish(hw, conf)
        return 0
    if op == "ip":
        if f"address_{dev}" not in conf:
            print("ipaddr:")
            print("netmask:")
        else:
            print(f"ipaddr:{conf[f'address_{dev}']}")
            print(f"netmask:{conf[f'netmask_{dev}']}")
    elif op == "link":
        print(f"link status: {port['link']}")
    elif op == "net_health":
        if port["link"] != "UP":
            print("net health status: Receive timeout")
        elif f"netdetect_{dev}" not in conf:
            print("net health status: Init")
        else:
            print("net health status: Success")
    elif op == "netdetect":
        print(f"netdetect address: {conf.get(f'netdetect_{dev}', '')}")
    elif op == "gateway":
        gw = conf.get(f"gateway_{dev}")
        print(f"default gateway:{gw}, Iface:eth{dev}" if gw else "default gateway:")
    elif op == "stat":
        errs = 0 if port["link"] == "UP" else 1024
        print("packet statistics:")
        print(f"roce_rx_err_pkt_num:{errs}")
        print(f"roce_tx_err_pkt_num:{errs}")
    elif op == "link_stat":
        print(f"[devid {dev}]current time        : Thu Jan  1 00:00:00 2026")
        print(f"[devid {dev}]link up count       : 1")
        print(f"[devid {dev}]link change records :")
        print(f"[devid {dev}]    Thu Jan  1 00:00:00 2026    LINK UP")
        if port["link"] != "UP":
            print(f"[devid {dev}]    Thu Jan  1 00:00:01 2026    LINK DOWN")
    elif op == "speed":
        print(f"Speed: {port['speed_gbps'] * 1000} Mb/s")
    elif op == "ping":
        return _ping(args, hw, dev, port, conf)
    else:
        print(f"Unsupported command: -{op}")
        return 1
    return 0


def _ping(
    args: list[str], hw: dict[str, Any], dev: int, port: dict[str, Any], conf: dict[str, str]
) -> int:
    """`hccn_tool -i N -ping -g address X`: NPU-to-NPU over the rail, as the fabric model
    says (both ports up, both configured, the same rail subnet)."""
    target = _value(args, "address")
    print(f"device {dev} PING {target}")
    mine = conf.get(f"address_{dev}")
    peer = _peer_port(hw, target)
    ok = (
        mine is not None
        and port["link"] == "UP"
        and peer is not None
        and peer["link"] == "UP"
        and peer["rail"] == port["rail"]
    )
    if not ok:
        print("3 packets transmitted, 0 received, 100.00% packet loss")
        return 1
    for seq, ms in enumerate((0.041, 0.034, 0.036)):
        print(f"recv seq={seq},time={ms:.6f}ms")
    print("3 packets transmitted, 3 received, 0.00% packet loss")
    return 0


def _peer_port(hw: dict[str, Any], address: str | None) -> dict[str, Any] | None:
    """The NPU port holding `address`: its rail and link state, from the addresses every
    node published (simulated hccn_tool -ip -s) and the faults the lab recorded."""
    shared = SHARED
    try:
        with open(os.path.join(shared, "fabric.json")) as fh:
            fab = json.load(fh)
    except (OSError, ValueError):
        return None
    for host in fab["nodes"]:
        try:
            with open(os.path.join(shared, "npu", f"{host}.json")) as fh:
                addrs: dict[str, str] = json.load(fh)
        except (OSError, ValueError):
            continue
        for dev, addr in addrs.items():
            if addr != address:
                continue
            rail = int(dev)
            down = any(
                f["host"] == host and (f.get("rail") or 0) == rail and f["kind"] == "port-down"
                for f in fab.get("faults", [])
            )
            return {"rail": rail, "link": "DOWN" if down else "UP"}
    return None


# ---- hccl_test ---------------------------------------------------------------------------
HCCL = {
    "all_reduce_test": "all_reduce",
    "all_gather_test": "all_gather",
    "reduce_scatter_test": "reduce_scatter",
    "alltoall_test": "alltoall",
}


def _opt(args: list[str], name: str) -> str | None:
    return _value(args, name)


def _size(text: str) -> int:
    mult = {"K": 2**10, "M": 2**20, "G": 2**30}
    unit = text[-1].upper()
    return int(float(text[:-1]) * mult[unit]) if unit in mult else int(text)


def hccl_test(prog: str, args: list[str], hw: dict[str, Any], model: Any, fab: Any) -> int:
    """One rank of hccl_test: ranks meet in the shared directory, rank 0 reports."""
    name = HCCL[prog]
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", 0))
    size = int(os.environ.get("OMPI_COMM_WORLD_SIZE", 1))
    local = int(os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK", 0))
    job = (
        os.environ.get("PMIX_NAMESPACE")
        or os.environ.get("OMPI_MCA_ess_base_jobid")  # noqa: SIM112 - Open MPI spells it so
        or f"local-{os.getpid()}"
    )
    d = os.path.join(SHARED, "jobs", "hccl-" + job.replace("/", "_"))
    os.makedirs(d, exist_ok=True)
    host = socket.gethostname()
    if local >= len(hw["gpus"]):
        print(f"[ERROR] HCCL: rank {rank}: aclrtSetDevice failed, device {local} is invalid")
        return 1
    with open(os.path.join(d, f"rank-{rank}.json"), "w") as fh:
        json.dump({"rank": rank, "host": host, "local": local}, fh)
    done = os.path.join(d, "done")
    if rank != 0:
        deadline = time.monotonic() + 600
        while not os.path.exists(done) and time.monotonic() < deadline:
            time.sleep(0.1)
        with open(done) as fh:
            return int(fh.read() or 0)
    ranks: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ranks = []
        for r in range(size):
            try:
                with open(os.path.join(d, f"rank-{r}.json")) as fh:
                    ranks.append(json.load(fh))
            except (OSError, ValueError):
                break
        if len(ranks) == size:
            break
        time.sleep(0.1)
    code = _report(name, args, ranks, model, fab)
    with open(done, "w") as fh:
        fh.write(str(code))
    return code


def _report(name: str, args: list[str], ranks: list[dict[str, Any]], model: Any, fab: Any) -> int:
    order = list(fab["nodes"])
    hosts = sorted({r["host"] for r in ranks}, key=lambda h: order.index(h) if h in order else 0)
    for h in hosts:
        rails = fab["nodes"][h].get("rails", 0)
        for f in model.faults(fab, h, "port-down"):
            if (f["rail"] or 0) < rails and len(hosts) > 1:
                print(
                    f"[ERROR] HCCL: {h} device {f['rail'] or 0}: the RoCE link is down: "
                    "socket connect timeout, remote rank did not answer"
                )
                return 1
    peak = model.collective_busbw(fab, hosts, name)
    if isinstance(peak, str):
        print(f"[ERROR] HCCL: {peak}")
        return 1
    minb = _size(_opt(args, "-b") or "64M")
    maxb = _size(_opt(args, "-e") or "64M")
    factor = int(_opt(args, "-f") or 2)
    check = (_opt(args, "-c") or "1") != "0"
    n = len(ranks)
    head = ("data_size(Bytes):", "aveg_time(us):", "alg_bandwidth(GB/s):")
    print(f"{head[0]:<15} | {head[1]:<12} | {head[2]:<18} | check_result:")
    sz = minb
    while sz <= maxb:
        t = model.collective_time_us(peak, name, n, sz, len(hosts) > 1)
        t /= model.noise(fab["seed"], "hccl", name, ",".join(hosts), sz)
        alg = sz / t / 1e3
        print(f"{sz:<17d} | {t:<14.2f} | {alg:<20.5f} | {'success' if check else 'NULL'}")
        sz *= factor
    return 0


def lspci_devices(hw: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]]:
    """The NPUs as lspci lists them (Huawei's Ascend 910B function, `d802`)."""
    return [
        (
            g["bdf"].lower(),
            "Processing accelerators: Huawei Technologies Co., Ltd. Device d802 (rev 20)",
            g,
            "gpu",
        )
        for g in hw["gpus"]
    ]


TOOLS = {"npu-smi": npu_smi, "hccn_tool": hccn_tool}
