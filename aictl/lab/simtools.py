#!/usr/bin/python3
"""Simulated GPU and HCA tools for lab nodes (stdlib only: runs with the node's python3).

Installed in each lab node as /usr/local/bin/<tool> -> this file; dispatches on the name it
was called by. Reads /etc/aictl-lab/hardware.json (the node's simulated hardware, faults
included) on every call and prints the real tool's format, headed by a marker line
`# aictl-lab: simulated <tool> output (<node>)` that parsers keep.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from typing import Any

HW_FILE = os.environ.get("AICTL_LAB_HW", "/etc/aictl-lab/hardware.json")
MARK = "# aictl-lab: simulated {tool} output ({node})"


def load() -> dict[str, Any]:
    with open(HW_FILE) as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def mark(tool: str, hw: dict[str, Any]) -> str:
    return MARK.format(tool=tool, node=hw["node"])


def _colon_guid(guid: str) -> str:
    return ":".join(guid[i : i + 4] for i in range(0, 16, 4))


# ---- nvidia-smi -------------------------------------------------------------------------
def topo_matrix(hw: dict[str, Any]) -> list[str]:
    gpus, nics = hw["gpus"], hw["nics"]
    head = [f"GPU{g['index']}" for g in gpus] + [f"NIC{i}" for i in range(len(nics))]
    lines = ["\t" + "\t".join([*head, "CPU Affinity", "NUMA Affinity", "GPU NUMA ID"])]

    def gpu_nic(g: dict[str, Any], n: dict[str, Any]) -> str:
        if g["index"] in n["gpus"]:
            return "PIX"
        return "NODE" if g["numa"] == n["numa"] else "SYS"

    def gpu_gpu(g: dict[str, Any], o: dict[str, Any]) -> str:
        # through NVSwitches every pair sees all of a GPU's links; direct-connect boards
        # split them over the peers (4-GPU HGX H100: 18 / 3 = NV6 a pair)
        if o is g:
            return " X "
        if not g["nvlinks"]:
            return "SYS" if g["numa"] != o["numa"] else "NODE"
        share = g["nvlinks"] if hw["nvswitch"] else g["nvlinks"] // max(1, len(gpus) - 1)
        return f"NV{share}"

    for g in gpus:
        cells = [gpu_gpu(g, o) for o in gpus]
        cells += [gpu_nic(g, n) for n in nics]
        cpus = "0-63" if g["numa"] == 0 else "64-127"
        lines.append(f"GPU{g['index']}\t" + "\t".join([*cells, cpus, str(g["numa"]), "\tN/A"]))
    for i, n in enumerate(nics):
        cells = [gpu_nic(g, n) for g in gpus]
        cells += [" X " if o is n else ("NODE" if o["numa"] == n["numa"] else "SYS") for o in nics]
        lines.append(f"NIC{i}\t" + "\t".join(cells) + "\t\t\t\t")
    lines += [
        "",
        "Legend:",
        "",
        "  X    = Self",
        "  SYS  = Connection traversing PCIe as well as the SMP interconnect between "
        "NUMA nodes (e.g., QPI/UPI)",
        "  NODE = Connection traversing PCIe as well as the interconnect between PCIe "
        "Host Bridges within a NUMA node",
        "  PHB  = Connection traversing PCIe as well as a PCIe Host Bridge (typically the CPU)",
        "  PXB  = Connection traversing multiple PCIe bridges (without traversing the "
        "PCIe Host Bridge)",
        "  PIX  = Connection traversing at most a single PCIe bridge",
        "  NV#  = Connection traversing a bonded set of # NVLinks",
        "",
        "NIC Legend:",
        "",
    ]
    lines += [f"  NIC{i}: {n['dev']}" for i, n in enumerate(nics)]
    return lines


def smi_query(hw: dict[str, Any], display: str | None) -> list[str]:
    out = [
        "",
        "==============NVSMI LOG==============",
        "",
        "Timestamp                                 : Thu Jan  1 00:00:00 2026",
        f"Driver Version                            : {hw['driver']}",
        f"CUDA Version                              : {hw['cuda']}",
        "",
        f"Attached GPUs                             : {len(hw['gpus'])}",
    ]
    fabric = "Completed" if hw["fabricmanager"] == "active" else "Not Started"
    fabric = hw.get("fabric_state") or fabric
    for g in hw["gpus"]:
        out.append(f"GPU {g['bdf']}")
        e, p = g["ecc"], g["pcie"]
        if display is None:
            out += [
                f"    Product Name                          : {g['model']}",
                f"    GPU UUID                              : {g['uuid']}",
                "    PCI",
                f"        Bus Id                            : {g['bdf']}",
                "        GPU Link Info",
                "            PCIe Generation",
                f"                Max                       : {p['max_gen']}",
                f"                Current                   : {p['gen']}",
                "            Link Width",
                f"                Max                       : {p['max_width']}x",
                f"                Current                   : {p['width']}x",
                *_clock_events(g),
                "    Fabric",
                f"        State                             : {fabric}",
                f"        Status                            : "
                f"{'Success' if fabric == 'Completed' else 'N/A'}",
            ]
        if display in (None, "ECC"):
            out += [
                "    ECC Errors",
                "        Volatile",
                "            DRAM Correctable              : 0",
                f"            DRAM Uncorrectable            : {e['volatile_uncorr']}",
            ]
        if display in (None, "PAGE_RETIREMENT"):
            out += [
                "    Retired Pages",
                f"        Single Bit ECC                    : {e['sbe_retired']}",
                f"        Double Bit ECC                    : {e['dbe_retired']}",
                f"        Pending Page Blacklist            : {'Yes' if e['pending'] else 'No'}",
            ]
        out.append("")
    return out


CLOCK_REASONS = (
    ("Idle", 8),
    ("Applications Clocks Setting", 8),
    ("SW Power Cap", 8),
    ("HW Slowdown", 8),
    ("HW Thermal Slowdown", 12),
    ("HW Power Brake Slowdown", 12),
    ("Sync Boost", 8),
    ("SW Thermal Slowdown", 8),
    ("Display Clock Setting", 8),
)


def _clock_events(g: dict[str, Any]) -> list[str]:
    """The R535+ `Clocks Event Reasons` section (HW thermal/power brake nest under HW)."""
    active = set(g.get("clock_events") or [])
    out = ["    Performance State                     : P0", "    Clocks Event Reasons"]
    for name, indent in CLOCK_REASONS:
        key = (" " * indent + name).ljust(38)
        out.append(f"{key}: {'Active' if name in active else 'Not Active'}")
    return out


def nvlink_errors(hw: dict[str, Any]) -> list[str]:
    """`nvidia-smi nvlink -e`: replay, recovery and CRC counters per link (errors on link 0)."""
    out: list[str] = []
    for g in hw["gpus"]:
        out.append(f"GPU {g['index']}: {g['model']} (UUID: {g['uuid']})")
        errs = g.get("nvlink_errors") or {}
        for link in range(g["nvlinks"]):
            for key, name in (("replay", "Replay"), ("recovery", "Recovery"), ("crc", "CRC")):
                out.append(f"\t Link {link}: {name} Errors: {errs.get(key, 0) if link == 0 else 0}")
    return out


def dmesg(args: list[str], hw: dict[str, Any]) -> int:
    """`dmesg --time-format iso`: the node's simulated kernel log (the driver's lines)."""
    import datetime

    print(mark("dmesg", hw))
    for e in hw.get("kernel_log", []):
        t = datetime.datetime.fromtimestamp(e["at"], tz=datetime.UTC)
        print(f"{t.strftime('%Y-%m-%dT%H:%M:%S')},{t.microsecond:06d}+00:00 {e['text']}")
    return 0


DCGM_TESTS = {
    1: [("Deployment", "software")],
    2: [("Hardware", "memory"), ("Integration", "pcie")],
    3: [("Stress", "targeted_stress"), ("Stress", "targeted_power"), ("Stress", "diagnostic")],
}


def dcgmi(args: list[str], hw: dict[str, Any]) -> int:
    """`dcgmi diag -r N -j`: DCGM 3.x's JSON, every test of the level and those below it."""
    if args[:1] != ["diag"] or "-r" not in args:
        print("Usage: dcgmi diag -r <1|2|3> -j  (aictl-lab simulator)", file=sys.stderr)
        return 1
    level = int(args[args.index("-r") + 1])
    fail = (hw.get("dcgm") or {}).get("fail")
    cats: dict[str, list[dict[str, Any]]] = {}
    failed = False
    for lvl in range(1, min(level, 3) + 1):
        for cat, test in DCGM_TESTS[lvl]:
            results = []
            for g in hw["gpus"]:
                bad = fail is not None and fail["test"] == test and fail["gpu"] == g["index"]
                failed = failed or bad
                r: dict[str, Any] = {"gpu_id": str(g["index"]), "status": "Fail" if bad else "Pass"}
                if bad:
                    r["warnings"] = [
                        {
                            "warning": f"Error using CUDA API cudaMemcpy Check DCGM and system "
                            f"logs for errors. Reset GPU {g['index']}. Restart DCGM. Rerun "
                            "diagnostics. (GPU memory test found 128 mismatches)",
                            "error_id": 83,
                        }
                    ]
                results.append(r)
            cats.setdefault(cat, []).append({"name": test, "results": results})
    doc = {
        "DCGM GPU Diagnostic": {
            "test_categories": [{"category": c, "tests": t} for c, t in cats.items()],
            "version": "3.3.9",
        },
        "simulated": True,
    }
    print(mark("dcgmi", hw))
    print(json.dumps(doc, indent=4))
    return 226 if failed else 0


def smi_xml(hw: dict[str, Any]) -> list[str]:
    out = [
        '<?xml version="1.0" ?>',
        f"<!-- {mark('nvidia-smi', hw)[2:]} -->",
        "<nvidia_smi_log>",
        f"\t<driver_version>{hw['driver']}</driver_version>",
        f"\t<cuda_version>{hw['cuda']}</cuda_version>",
        f"\t<attached_gpus>{len(hw['gpus'])}</attached_gpus>",
    ]
    for g in hw["gpus"]:
        p, e = g["pcie"], g["ecc"]
        out += [
            f'\t<gpu id="{g["bdf"]}">',
            f"\t\t<product_name>{g['model']}</product_name>",
            f"\t\t<uuid>{g['uuid']}</uuid>",
            "\t\t<pci>",
            f"\t\t\t<pci_bus_id>{g['bdf']}</pci_bus_id>",
            "\t\t\t<pci_gpu_link_info>",
            f"\t\t\t\t<pcie_gen><max_link_gen>{p['max_gen']}</max_link_gen>"
            f"<current_link_gen>{p['gen']}</current_link_gen></pcie_gen>",
            f"\t\t\t\t<link_widths><max_link_width>{p['max_width']}x</max_link_width>"
            f"<current_link_width>{p['width']}x</current_link_width></link_widths>",
            "\t\t\t</pci_gpu_link_info>",
            "\t\t</pci>",
            f"\t\t<retired_pages><multiple_single_bit_retirement><retired_count>"
            f"{e['sbe_retired']}</retired_count></multiple_single_bit_retirement>"
            f"<double_bit_retirement><retired_count>{e['dbe_retired']}</retired_count>"
            f"</double_bit_retirement><pending_blacklist>{'Yes' if e['pending'] else 'No'}"
            "</pending_blacklist></retired_pages>",
            "\t</gpu>",
        ]
    return [*out, "</nvidia_smi_log>"]


def nvlink_status(hw: dict[str, Any], only: int | None) -> list[str]:
    out: list[str] = []
    for g in hw["gpus"]:
        if only is not None and g["index"] != only:
            continue
        out.append(f"GPU {g['index']}: {g['model']} (UUID: {g['uuid']})")
        for link in range(g["nvlinks"]):
            down = link >= g["nvlinks"] - g["nvlinks_down"]
            out.append(
                f"\t Link {link}: " + ("<inactive>" if down else f"{g['nvlink_gbytes']:g} GB/s")
            )
    return out


def nvidia_smi(args: list[str], hw: dict[str, Any]) -> int:
    lines: list[str]
    if args[:2] == ["topo", "-m"]:
        lines = topo_matrix(hw)
    elif args[:1] == ["nvlink"] and "-e" in args:
        lines = nvlink_errors(hw)
    elif args[:1] == ["nvlink"]:
        only = int(args[args.index("-i") + 1]) if "-i" in args else None
        if only is not None and not 0 <= only < len(hw["gpus"]):
            print("No devices were found")
            return 6
        lines = nvlink_status(hw, only)
    elif "-q" in args and "-x" in args:
        print("\n".join(smi_xml(hw)))
        return 0
    elif "-q" in args:
        display = args[args.index("-d") + 1] if "-d" in args else None
        lines = smi_query(hw, display)
    elif "-L" in args:
        lines = [f"GPU {g['index']}: {g['model']} (UUID: {g['uuid']})" for g in hw["gpus"]]
    else:
        lines = [
            f"NVIDIA-SMI {hw['driver']}    Driver Version: {hw['driver']}    "
            f"CUDA Version: {hw['cuda']}"
        ]
        lines += [f"GPU {g['index']}  {g['model']}  {g['bdf']}" for g in hw["gpus"]]
    print("\n".join([mark("nvidia-smi", hw), *lines]))
    return 0


# ---- HCA tools --------------------------------------------------------------------------
def ibstat(args: list[str], hw: dict[str, Any]) -> int:
    nics = [n for n in hw["nics"] if not args or n["dev"] == args[0]]
    if args and not nics:
        print(
            f"ibpanic: [1] main: '{args[0]}' IB device can't be found: No such file or directory",
            file=sys.stderr,
        )
        return 255
    out = [mark("ibstat", hw)]
    for n in nics:
        ib = n["link_layer"] == "InfiniBand"
        out += [
            f"CA '{n['dev']}'",
            "\tCA type: MT4123",
            "\tNumber of ports: 1",
            "\tFirmware version: 20.39.1002",
            "\tHardware version: 0",
            f"\tNode GUID: 0x{n['node_guid']}",
            f"\tSystem image GUID: 0x{n['node_guid']}",
            "\tPort 1:",
            f"\t\tState: {n['state']}",
            f"\t\tPhysical state: {n['phys']}",
            f"\t\tRate: {n['rate']}",
            f"\t\tBase lid: {n['lid'] if ib else 0}",
            "\t\tLMC: 0",
            f"\t\tSM lid: {hw.get('sm_lid', 1) if ib else 0}",
            f"\t\tCapability mask: {'0x2651e848' if ib else '0x00010000'}",
            f"\t\tPort GUID: 0x{n['port_guid']}",
            f"\t\tLink layer: {n['link_layer']}",
        ]
    print("\n".join(out))
    return 0


def ibv_devinfo(args: list[str], hw: dict[str, Any]) -> int:
    dev = args[args.index("-d") + 1] if "-d" in args else None
    out = [mark("ibv_devinfo", hw)]
    for n in hw["nics"]:
        if dev and n["dev"] != dev:
            continue
        active = n["state"] == "Active"
        out += [
            f"hca_id:\t{n['dev']}",
            "\ttransport:\t\t\tInfiniBand (0)",
            "\tfw_ver:\t\t\t\t20.39.1002",
            f"\tnode_guid:\t\t\t{_colon_guid(n['node_guid'])}",
            f"\tsys_image_guid:\t\t\t{_colon_guid(n['node_guid'])}",
            "\tvendor_id:\t\t\t0x02c9",
            "\tvendor_part_id:\t\t\t4123",
            "\thw_ver:\t\t\t\t0x0",
            "\tboard_id:\t\t\tMT_0000000223",
            "\tphys_port_cnt:\t\t\t1",
            "\t\tport:\t1",
            f"\t\t\tstate:\t\t\t{'PORT_ACTIVE (4)' if active else 'PORT_DOWN (1)'}",
            "\t\t\tmax_mtu:\t\t4096 (5)",
            "\t\t\tactive_mtu:\t\t4096 (5)",
            f"\t\t\tsm_lid:\t\t\t{hw.get('sm_lid', 1) if active else 0}",
            f"\t\t\tport_lid:\t\t{n['lid']}",
            "\t\t\tport_lmc:\t\t0x00",
            f"\t\t\tlink_layer:\t\t{n['link_layer']}",
            "",
        ]
    print("\n".join(out))
    return 0


def ibdev2netdev(args: list[str], hw: dict[str, Any]) -> int:
    out = [mark("ibdev2netdev", hw)]
    for n in sorted(hw["nics"], key=lambda n: n["dev"]):
        state = "Up" if n["state"] == "Active" else "Down"
        out.append(f"{n['dev']} port 1 ==> {n['netdev']} ({state})")
    print("\n".join(out))
    return 0


def show_gids(args: list[str], hw: dict[str, Any]) -> int:
    out = [
        mark("show_gids", hw),
        "DEV\tPORT\tINDEX\tGID\t\t\t\t\tIPv4  \t\tVER\tDEV",
        "---\t----\t-----\t---\t\t\t\t\t------------  \t---\t---",
    ]
    count = 0
    for n in hw["nics"]:
        if args and n["dev"] != args[0]:
            continue
        g = n["port_guid"]
        link_local = "fe80:0000:0000:0000:" + _colon_guid(g)
        if n["link_layer"] == "InfiniBand":
            out.append(f"{n['dev']}\t1\t0\t{link_local}\t\t\t\t{n['netdev']}")
            count += 1
            continue
        a, b, c, d = (int(x) for x in n["ip"].split("."))
        v4 = f"0000:0000:0000:0000:0000:ffff:{a:02x}{b:02x}:{c:02x}{d:02x}"
        for i, (gid, ip, ver) in enumerate(
            [
                (link_local, "", "v1"),
                (link_local, "", "v2"),
                (v4, n["ip"], "v1"),
                (v4, n["ip"], "v2"),
            ]
        ):
            out.append(f"{n['dev']}\t1\t{i}\t{gid}\t{ip:<12}  \t{ver}\t{n['netdev']}")
            count += 1
    out.append(f"n_gids_found={count}")
    print("\n".join(out))
    return 0


ROCE_STATS = (
    *(f"{d}_prio{p}_pause" for p in range(8) for d in ("rx", "tx")),
    "rx_discards_phy",
    "tx_discards_phy",
    "rx_out_of_buffer",
)


def ethtool_stats(nic: dict[str, Any]) -> list[str]:
    """`ethtool -S <netdev>` of a ConnectX rail: its pause, discard and buffer counters."""
    c = nic.get("roce_counters") or {}
    return ["NIC statistics:", *(f"     {k}: {c.get(k, 0)}" for k in ROCE_STATS)]


def mlnx_qos_table(nic: dict[str, Any]) -> list[str]:
    """`mlnx_qos -i <netdev>`: the trust state and the PFC table (the head of its output)."""
    q = nic.get("qos") or {}
    flags = "   ".join("1" if p in q.get("pfc", []) else "0" for p in range(8))
    return [
        "DCBX mode: OS controlled",
        f"Priority trust state: {q.get('trust', 'dscp')}",
        "PFC configuration:",
        "\tpriority    " + "   ".join(str(p) for p in range(8)),
        f"\tenabled     {flags}",
        f"\tbuffer      {flags}",
    ]


def ethtool(args: list[str], hw: dict[str, Any]) -> int:
    """`ethtool -S <netdev>` of a rail NIC (the statistics only: the lab sets nothing)."""
    nic = next((n for n in hw["nics"] if n["netdev"] in args), None)
    if "-S" not in args or nic is None:
        print(f"{mark('ethtool', hw)}\nCannot get stats information: Operation not supported")
        return 94
    print("\n".join([mark("ethtool", hw), *ethtool_stats(nic)]))
    return 0


def mlnx_qos(args: list[str], hw: dict[str, Any]) -> int:
    """`mlnx_qos -i <netdev>`: the rail's trust state and PFC table; `--trust X` and
    `--pfc a,b,...` set them (as the rendered aictl-roce-qos does)."""
    name = args[args.index("-i") + 1] if "-i" in args[:-1] else ""
    nic = next((n for n in hw["nics"] if n["netdev"] == name), None)
    if nic is None:
        print(f"{mark('mlnx_qos', hw)}\nNetlink error: No such device {name}")
        return 1
    q = nic.setdefault("qos", {})
    if "--trust" in args[:-1] or "--pfc" in args[:-1]:
        if "--trust" in args[:-1]:
            q["trust"] = args[args.index("--trust") + 1]
        if "--pfc" in args[:-1]:
            flags = args[args.index("--pfc") + 1].split(",")
            q["pfc"] = [p for p, f in enumerate(flags) if f.strip() == "1"]
        with open(HW_FILE, "w") as fh:
            json.dump(hw, fh, indent=1, sort_keys=True)
    print("\n".join([mark("mlnx_qos", hw), *mlnx_qos_table(nic)]))
    return 0


def ofed_info(args: list[str], hw: dict[str, Any]) -> int:
    print(f"{hw['ofed']}:" if "-s" in args else f"{mark('ofed_info', hw)}\n{hw['ofed']}:")
    return 0


# ---- PCIe, modules, services ------------------------------------------------------------
def lspci(args: list[str], hw: dict[str, Any]) -> int:
    devices: list[tuple[str, str, dict[str, Any], str]] = []
    vendor = hw.get("vendor", "nvidia")
    if vendor != "nvidia":  # AMD and Ascend nodes: their accelerators (and NUMA nodes)
        devices = [*_vendor_module(vendor).lspci_devices(hw)]
    for b in hw["bridges"] if vendor == "nvidia" else []:
        devices.append((b["bdf"], "PCI bridge: PLX Technology, Inc. PEX 88096 (sim)", b, "bridge"))
    for g in hw["gpus"] if vendor == "nvidia" else []:
        devices.append(
            (g["bdf"][4:].lower(), f"3D controller: NVIDIA Corporation {g['model']}", g, "gpu")
        )
    for i in range(hw.get("nvswitches", 0) if vendor == "nvidia" else 0):
        bdf = f"0000:{0xC0 + i:02x}:00.0"
        devices.append((bdf, "Bridge: NVIDIA Corporation Device 1af1 (rev a1)", {}, "nvswitch"))
    for n in hw["nics"] if vendor == "nvidia" else []:
        devices.append(
            (
                n["bdf"],
                "Infiniband controller: Mellanox Technologies MT28908 Family [ConnectX-6]",
                n,
                "nic",
            )
        )
    sel = args[args.index("-s") + 1] if "-s" in args else None
    verbose = any(a.startswith("-vv") for a in args)
    out = [mark("lspci", hw)]
    for bdf, desc, dev, kind in sorted(devices):
        if sel and not bdf.endswith(sel):
            continue
        out.append(f"{bdf} {desc}")
        if not verbose or kind == "nvswitch":
            continue
        if kind == "bridge":
            flag = "+" if dev["acs"] else "-"
            out += [
                "\tCapabilities: [f24 v1] Access Control Services",
                "\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ "
                "EgressCtrl+ DirectTrans+",
                f"\t\tACSCtl:\tSrcValid{flag} TransBlk- ReqRedir{flag} CmpltRedir{flag} "
                f"UpstreamFwd{flag} EgressCtrl- DirectTrans-",
            ]
        else:
            if vendor != "nvidia" and "numa" in dev:
                out.append(f"\tNUMA node: {dev['numa']}")
            p = dev["pcie"]
            speed = {3: "8GT/s", 4: "16GT/s", 5: "32GT/s"}
            max_width = p.get("max_width", 16)
            state = "(ok)" if p["width"] == max_width else "(downgraded)"
            out += [
                f"\t\tLnkCap:\tPort #0, Speed {speed[p.get('max_gen', 4)]}, "
                f"Width x{max_width}, ASPM not supported",
                f"\t\tLnkSta:\tSpeed {speed[p['gen']]} (ok), Width x{p['width']} {state}",
            ]
    print("\n".join(out))
    return 0


def setpci(args: list[str], hw: dict[str, Any]) -> int:
    """Only the ACS register: read shows it, write of 0000 disables it (recorded)."""
    if "-s" not in args:
        return 1
    bdf = args[args.index("-s") + 1]
    reg = next((a for a in args if a.startswith("ECAP_ACS+0x6.w")), None)
    bridge = next((b for b in hw["bridges"] if b["bdf"].endswith(bdf)), None)
    if reg is None or bridge is None:
        return 1
    if "=" in reg:
        bridge["acs"] = int(reg.split("=", 1)[1], 16) != 0
        with open(HW_FILE, "w") as fh:
            json.dump(hw, fh, indent=1, sort_keys=True)
    else:
        print("005d" if bridge["acs"] else "0000")
    return 0


def lsmod(args: list[str], hw: dict[str, Any]) -> int:
    lines = ["Module                  Size  Used by"]
    for path in ("/usr/bin/lsmod", "/sbin/lsmod", "/bin/lsmod", "/usr/sbin/lsmod"):
        if os.path.exists(path):
            real = subprocess.run([path], capture_output=True, text=True, check=False)
            lines = real.stdout.splitlines() or lines
            break
    sim = ["nvidia_uvm           1531904  0", "nvidia              56700928  2 nvidia_uvm"]
    if hw["peermem"]:
        sim.insert(0, "nvidia_peermem         16384  0")
    if hw["nvswitch"]:
        sim.append("nvidia_modeset        1572864  0")
    sim.append("aictl_lab_simulated        0  0")
    print("\n".join([lines[0], *sim, *lines[1:]]))
    return 0


def lldpctl(args: list[str], hw: dict[str, Any]) -> int:
    """`lldpctl -f json`: the ToR port each bond member is cabled to (lldpd's JSON shape)."""
    ifaces = [
        {
            m["ifname"]: {
                "via": "LLDP",
                "rid": "1",
                "chassis": {m["tor"]: {"id": {"type": "mac", "value": "00:00:5e:00:53:01"}}},
                "port": {"id": {"type": "ifname", "value": m["port"]}, "descr": m["port"]},
            }
        }
        for m in hw.get("bond", {}).get("members", [])
    ]
    doc = {"lldp": {"interface": ifaces[0] if len(ifaces) == 1 else ifaces}}
    print(mark("lldpctl", hw))
    print(json.dumps(doc, indent=2))
    return 0


def systemctl(args: list[str], hw: dict[str, Any]) -> int:
    if len(args) >= 2 and args[0] == "is-active" and args[1].startswith("nvidia-fabricmanager"):
        state = hw["fabricmanager"] if hw["nvswitch"] else "inactive"
        print(state)
        return 0 if state == "active" else 3
    os.execv("/usr/bin/systemctl", ["systemctl", *args])
    return 1


# ---- benchmarks: perftest and nccl-tests, numbers from the fabric model -----------------
SHARED = os.path.dirname(os.path.realpath(__file__))
FABRIC_FILE = os.environ.get("AICTL_LAB_FABRIC", os.path.join(SHARED, "fabric.json"))
DASH = "-" * 87
SIZES_ALL = [2**i for i in range(1, 24)]
TITLES = {"ib_write_bw": "RDMA_Write BW Test", "ib_read_bw": "RDMA_Read BW Test"}


def _model() -> Any:
    try:
        from aictl.lab import fabricmodel
    except ImportError:  # inside a lab node: the model sits next to this file
        sys.path.insert(0, SHARED)
        import fabricmodel  # type: ignore[import-not-found,no-redef]
    return fabricmodel


def _fabric() -> dict[str, Any]:
    with open(FABRIC_FILE) as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _opt(args: list[str], *names: str) -> str | None:
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


def _size(text: str) -> int:
    mult = {"K": 2**10, "M": 2**20, "G": 2**30}
    unit = text[-1].upper()
    return int(float(text[:-1]) * mult[unit]) if unit in mult else int(text)


def _positional(args: list[str]) -> str | None:
    with_value = {
        "-d",
        "-i",
        "-x",
        "-s",
        "-n",
        "-D",
        "-q",
        "-p",
        "-m",
        "-T",
        "-c",
        "--use_cuda",
        "--use_cuda_bus_id",
    }
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in with_value:
            skip = True
            continue
        if not a.startswith("-"):
            return a
    return None


def _perf_header(
    test: str, nic: dict[str, Any], qps: int, local_lid: int, remote_lid: int, server: bool
) -> list[str]:
    link = "IB" if nic["link_layer"] == "InfiniBand" else "Ethernet"
    out = [
        DASH,
        f"                    {TITLES[test]}",
        f" Dual-port       : OFF\t\tDevice         : {nic['dev']}",
        f" Number of qps   : {qps}\t\tTransport type : IB",
        " Connection type : RC\t\tUsing SRQ      : OFF",
        " PCIe relax order: ON",
        " ibv_wr* API     : ON",
    ]
    if not server:
        out.append(" TX depth        : 128")
    if test == "ib_read_bw":
        out.append(" Outstand reads  : 16")
    out += [" CQ Moderation   : 100", " Mtu             : 4096[B]", f" Link type       : {link}"]
    if link == "Ethernet":
        out.append(" GID index       : 3")
    out += [" Max inline data : 0[B]", " rdma_cm QPs\t : OFF", " Data ex. method : Ethernet", DASH]
    out += [
        f" local address: LID {local_lid:#04x} QPN {0x100 + q:#06x} PSN 0x{q:06x} "
        "RKey 0x1fdfff VAddr 0x007f0000000000"
        for q in range(qps)
    ]
    out += [
        f" remote address: LID {remote_lid:#04x} QPN {0x200 + q:#06x} PSN "
        f"0x{q + 16:06x} RKey 0x1fdfd1 VAddr 0x007f1000000000"
        for q in range(qps)
    ]
    return [*out, DASH]


def _cuda_chatter(hw: dict[str, Any], gpu: int) -> list[str]:
    g = hw["gpus"][gpu]
    if hw.get("vendor") == "amd":  # perftest's rocm_memory.c
        bus = int(g["bdf"].split(":")[1], 16)
        return [
            f"Using ROCm Device with ID: {gpu}, Name: {g['model']}, PCI Bus ID: {bus:#x}, "
            "GCN Arch: gfx942:sramecc+:xnack-",
            "allocated 33554432 bytes of GPU buffer at 0x7f0000000000",
        ]
    return [
        "initializing CUDA",
        "Listing all CUDA devices in system:",
        *(f"CUDA device {x['index']}: PCIe address is {x['bdf'][9:11]}:00" for x in hw["gpus"]),
        f"Picking device No. {gpu}",
        f"[pid = {os.getpid()}, dev = {gpu}] device name = [{g['model']}]",
        "creating CUDA Ctx",
        "making it the current CUDA Ctx",
        "cuMemAlloc() of a 33554432 bytes GPU buffer",
        "allocated GPU buffer address at 00007f0000000000 pointer=0x7f0000000000",
    ]


def _row(size: int, iters: int, gbps: float, gbits: bool) -> str:
    value = gbps if gbits else gbps * 1e9 / 8 / 2**20
    rate = gbps * 1e9 / 8 / size / 1e6
    return (
        f" {size:<10d} {iters:<10d}       {value:<7.2f}            {value:<7.2f}\t\t   {rate:<7.6f}"
    )


def _units(gbits: bool) -> str:
    u = "Gb/sec" if gbits else "MiB/sec"
    return f" #bytes     #iterations    BW peak[{u}]    BW average[{u}]   MsgRate[Mpps]"


def perftest(test: str, args: list[str], hw: dict[str, Any]) -> int:
    """ib_write_bw / ib_read_bw: the server waits for a client on TCP, both print results."""
    import socket
    import time

    dev = _opt(args, "-d") or hw["nics"][0]["dev"]
    nic = next((n for n in hw["nics"] if n["dev"] == dev), None)
    if nic is None:  # as perftest's ctx_find_dev and main say it
        print(f"IB device {dev} not found", file=sys.stderr)
        print(" Unable to find the Infiniband/RoCE device", file=sys.stderr)
        return 1
    port = int(_opt(args, "-p") or 18515)
    qps = int(_opt(args, "-q") or 1)
    gbits = "--report_gbits" in args
    iters = int(_opt(args, "-n") or 5000)
    # an AMD node's perftest is built with ROCm (--use_rocm), an NVIDIA node's with CUDA:
    # each refuses the other's option, as getopt does
    rocm = hw.get("vendor") == "amd"
    wrong = "--use_cuda" if rocm else "--use_rocm"
    if _opt(args, wrong) is not None:
        print(f"{test}: unrecognized option '{wrong}'", file=sys.stderr)
        return 1
    cuda = _opt(args, "--use_rocm" if rocm else "--use_cuda")
    gpu = int(cuda) if cuda is not None else None
    if gpu is not None and not 0 <= gpu < len(hw["gpus"]) and rocm:
        print(mark(test, hw))
        print("Couldn't initialize ROCm device", file=sys.stderr)
        return 1
    if gpu is not None and not 0 <= gpu < len(hw["gpus"]):  # perftest's cuda_memory.c
        print(mark(test, hw))
        print("initializing CUDA")
        print(f"No such device ID ({gpu}) exists in system", file=sys.stderr)
        print("Couldn't init GPU context: 1", file=sys.stderr)
        return 1
    sizes = SIZES_ALL if "-a" in args else [int(_opt(args, "-s") or 65536)]
    peer = _positional(args)
    me = {"host": hw["node"], "rail": nic["rail"], "gpu": gpu, "lid": nic["lid"]}
    print(mark(test, hw))
    if gpu is not None:
        print("\n".join(_cuda_chatter(hw, gpu)))
    if peer is None:  # server
        print("\n".join(["*" * 36, "* Waiting for client to connect... *", "*" * 36]), flush=True)
        with socket.create_server(("", port), reuse_port=True) as srv:
            srv.settimeout(120)
            conn, _ = srv.accept()
            with conn, conn.makefile("rw") as f:
                other = json.loads(f.readline())
                f.write(json.dumps(me) + "\n")
                f.flush()
                result = json.loads(f.readline() or "{}")
        print("\n".join(_perf_header(test, nic, qps, nic["lid"], other["lid"], True)))
        if "error" in result:
            print(f" {result['error']}")
            return 1
        print(_units(gbits))
        print(_row(sizes[-1], iters, result["gbps"][-1], gbits))
        print(DASH)
        return 0
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = socket.create_connection((peer, port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                print(f"Couldn't connect to {peer}:{port}")
                print("Unable to init the socket connection")
                return 1
            time.sleep(0.2)
    with conn, conn.makefile("rw") as f:
        f.write(json.dumps(me) + "\n")
        f.flush()
        other = json.loads(f.readline())
        model, fab = _model(), _fabric()
        flows = _register_flow(me, other)
        try:
            results = [
                model.perftest_gbps(
                    fab,
                    me["host"],
                    me["rail"],
                    gpu,
                    other["host"],
                    other["rail"],
                    other["gpu"],
                    size,
                    flows,
                )
                for size in sizes
            ]
        finally:
            _unregister_flow(me)
        errors = [r for r in results if isinstance(r, str)]
        f.write(json.dumps({"error": errors[0]} if errors else {"gbps": results}) + "\n")
        f.flush()
    print("\n".join(_perf_header(test, nic, qps, nic["lid"], other["lid"], False)))
    if errors:
        print(
            f" Completion with error at client\n {errors[0]}\n scnt=128, ccnt=0\n"
            " Failed to complete run_iter_bw function successfully"
        )
        return 1
    print(_units(gbits))
    for size, r in zip(sizes, results, strict=True):
        print(_row(size, iters, float(r), gbits))
    print(DASH)
    return 0


def _flow_file(me: dict[str, Any]) -> str:
    return os.path.join(SHARED, "flows", f"{me['host']}-{me['rail']}-{os.getpid()}.json")


def _register_flow(me: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Flows running now on the fabric (for fair sharing), after announcing this one."""
    import glob
    import time

    model, fab = _model(), _fabric()
    path = model.links(fab, me["host"], me["rail"], other["host"], other["rail"])
    with open(_flow_file(me), "w") as fh:
        json.dump(
            {"id": f"{me['host']}:{me['rail']}>{other['host']}:{other['rail']}", "path": path}, fh
        )
    time.sleep(0.3)  # let flows started in the same round announce themselves
    flows: dict[str, Any] = {}
    for name in glob.glob(os.path.join(SHARED, "flows", "*.json")):
        if name == _flow_file(me):
            continue
        try:
            with open(name) as fh:
                f = json.load(fh)
            flows[f["id"]] = [tuple(x) for x in f["path"]]
        except (OSError, ValueError):
            continue
    return flows


def _unregister_flow(me: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        os.unlink(_flow_file(me))


NCCL = {
    "all_reduce_perf": ("all_reduce", "sum"),
    "all_gather_perf": ("all_gather", "none"),
    "reduce_scatter_perf": ("reduce_scatter", "sum"),
    "alltoall_perf": ("alltoall", "none"),
    "sendrecv_perf": ("sendrecv", "sum"),
}


def _mpi_rank() -> tuple[int, int, int, str]:
    """(rank, size, local rank, job) as MPI_Init would learn them: from mpirun (Open MPI's
    variables), else from srun's PMI-2 (PMI_RANK, PMI_SIZE) and its step (SLURM_*)."""
    e = os.environ
    if "OMPI_COMM_WORLD_RANK" in e:
        job = e.get("PMIX_NAMESPACE") or e.get("OMPI_MCA_ess_base_jobid")
        return (
            int(e["OMPI_COMM_WORLD_RANK"]),
            int(e.get("OMPI_COMM_WORLD_SIZE") or 1),
            int(e.get("OMPI_COMM_WORLD_LOCAL_RANK") or 0),
            job or f"local-{os.getpid()}",
        )
    if "SLURM_STEP_ID" in e and "SLURM_JOB_ID" in e:
        return (
            int(e.get("PMI_RANK") or e.get("SLURM_PROCID") or 0),
            int(e.get("PMI_SIZE") or e.get("SLURM_NTASKS") or 1),
            int(e.get("SLURM_LOCALID") or 0),
            f"slurm-{e['SLURM_JOB_ID']}.{e['SLURM_STEP_ID']}",
        )
    job = e.get("PMIX_NAMESPACE") or e.get("OMPI_MCA_ess_base_jobid")
    return 0, 1, 0, job or f"local-{os.getpid()}"


def nccl_test(prog: str, args: list[str], hw: dict[str, Any]) -> int:
    """nccl-tests: the MPI ranks meet in the lab's shared dir; rank 0 reports."""
    import socket
    import time

    name, redop = NCCL[prog]
    rank, size, local, job = _mpi_rank()
    ngpus = int(_opt(args, "-g") or 1)
    d = os.path.join(SHARED, "jobs", job.replace("/", "_"))
    os.makedirs(d, exist_ok=True)
    host = socket.gethostname()
    if rank == 0:
        print("\n".join(_nccl_header(prog, args, ngpus, hw)), flush=True)
    # like nccl-tests: this process drives GPUs local*nGpus .. +nGpus-1; one that is not
    # there fails cudaGetDeviceProperties with 'invalid device ordinal'
    bad = [local * ngpus + i for i in range(ngpus) if local * ngpus + i >= len(hw["gpus"])]
    if bad:
        api = "HIP" if hw.get("vendor") == "amd" else "CUDA"  # rccl-tests says HIP
        print(f"{host}: Test {api} failure common.cu:1009 'invalid device ordinal'")
        print(f" .. {host} pid {os.getpid()}: Test failure common.cu:1271", flush=True)
        with open(os.path.join(d, f"fail-{rank}"), "w") as fh:
            fh.write("2")
        return 2
    with open(os.path.join(d, f"rank-{rank}.json"), "w") as fh:
        json.dump(
            {"rank": rank, "host": host, "pid": os.getpid(), "local": local, "ngpus": ngpus}, fh
        )
    done = os.path.join(d, "done")
    if rank != 0:
        deadline = time.monotonic() + 600
        while not os.path.exists(done) and time.monotonic() < deadline:
            time.sleep(0.1)
        with open(done) as fh:
            return int(fh.read() or 0)
    deadline = time.monotonic() + 60
    ranks: list[dict[str, Any]] = []
    failed = False
    while time.monotonic() < deadline:
        ranks = []
        for r in range(size):
            try:
                with open(os.path.join(d, f"rank-{r}.json")) as fh:
                    ranks.append(json.load(fh))
            except (OSError, ValueError):
                break
        failed = any(n.startswith("fail-") for n in os.listdir(d))
        if len(ranks) == size or failed:
            break
        time.sleep(0.1)
    if failed:  # another rank died: the job aborts
        code = 2
    elif len({r.get("ngpus", ngpus) for r in ranks}) > 1:
        # nccl-tests sizes the communicator from this process's -g: mixed -g cannot work
        print(
            f"{host}: Test NCCL failure common.cu:1056 'invalid usage (run with NCCL_DEBUG=WARN "
            "for details) / -g differs between processes'"
        )
        code = 3
    else:
        code = _nccl_report(prog, name, redop, args, ranks, ngpus, hw)
    with open(done, "w") as fh:
        fh.write(str(code))
    return code


def _nccl_header(prog: str, args: list[str], ngpus: int, hw: dict[str, Any]) -> list[str]:
    """What rank 0 prints before it looks at any GPU."""
    minb = _size(_opt(args, "-b", "--minbytes") or "32M")
    maxb = _size(_opt(args, "-e", "--maxbytes") or "32M")
    factor = int(_opt(args, "-f", "--stepfactor") or 2)
    iters = int(_opt(args, "-n", "--iters") or 20)
    check = int(_opt(args, "-c", "--check") or 1)
    json_out = _opt(args, "-J")
    out = [mark(prog, hw)]
    if json_out:
        out.append(f"# Writing JSON output to {json_out}")
    if hw.get("vendor") == "amd":  # rccl-tests: its own version line, no nccl-tests one
        return [
            *out,
            f"# Collective test starting: {prog}",
            f"# nThread 1 nGpus {ngpus} minBytes {minb} maxBytes {maxb} step: {factor}(factor) "
            f"warmup iters: 1 iters: {iters} agg iters: 1 validation: {check} graph: 0",
            "#",
            "rccl-tests: Version develop:33cc4df",
        ]
    return [
        *out,
        "# nccl-tests version 2.19.6 nccl-headers=22304 nccl-library=22304",
        f"# Collective test starting: {prog}",
        f"# nThread 1 nGpus {ngpus} minBytes {minb} maxBytes {maxb} step: {factor}(factor) "
        f"warmup iters: 1 iters: {iters} agg iters: 1 validation: {check} graph: 0 "
        "unalign: 0",
        "#",
    ]


def _nccl_report(
    prog: str,
    name: str,
    redop: str,
    args: list[str],
    ranks: list[dict[str, Any]],
    ngpus: int,
    hw: dict[str, Any],
) -> int:
    model, fab = _model(), _fabric()
    minb = _size(_opt(args, "-b", "--minbytes") or "32M")
    maxb = _size(_opt(args, "-e", "--maxbytes") or "32M")
    factor = int(_opt(args, "-f", "--stepfactor") or 2)
    iters = int(_opt(args, "-n", "--iters") or 20)
    check = int(_opt(args, "-c", "--check") or 1)
    json_out = _opt(args, "-J")
    order = list(fab["nodes"])
    hosts = sorted({r["host"] for r in ranks}, key=lambda h: order.index(h) if h in order else 0)
    n = len(ranks) * ngpus
    out = ["# Using devices"]
    devices = []
    for r in sorted(ranks, key=lambda x: x["rank"]):
        node = fab["nodes"].get(r["host"], {})
        for g in range(ngpus):
            gpu = r["local"] * ngpus + g  # every rank checked its devices exist
            bus = 0x18 + 0x10 * gpu
            gpu_name = node.get("gpu_model", "NVIDIA GPU")
            idx = r["rank"] * ngpus + g
            devices.append((idx, r["pid"], r["host"], gpu, bus, gpu_name))
            out.append(
                f"#  Rank {idx:2d} Group  0 Pid {r['pid']:6d} on {r['host']:>10s} "
                f"device {gpu:2d} [0000:{bus:02x}:00] {gpu_name}"
            )
    peak = model.collective_busbw(fab, hosts, name)
    if isinstance(peak, str):
        print("\n".join(out), flush=True)
        print(peak)
        print(f" .. {peak.split(':')[0]} pid {ranks[0]['pid']}: Test failure common.cu:1189")
        return 3
    if len(hosts) > 1 and any(model.faults(fab, h, "peermem-missing") for h in hosts):
        out.insert(
            0,
            f"{hosts[0]}:{ranks[0]['pid']}:{ranks[0]['pid']} [0] NCCL INFO Channel "
            "00/0 : 0[0] -> 1[0] [send] via NET/IB/0 (GDR 0: nvidia-peermem not "
            "loaded)",
        )
    out += [
        "#",
        "#                                                              out-of-place"
        "                       in-place          ",
        "#       size         count      type   redop    root     time   algbw   busbw "
        "#wrong     time   algbw   busbw  #wrong ",
        "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)   "
        "          (us)  (GB/s)  (GB/s)         ",
    ]
    busbws: list[float] = []
    results = []
    sz = minb
    while sz <= maxb:
        row = []
        for place in ("out", "in"):
            t = model.collective_time_us(peak, name, n, sz, len(hosts) > 1)
            t /= model.noise(fab["seed"], prog, ",".join(hosts), sz, place)
            alg = sz / t / 1e3
            bus = alg * model.bus_factor(name, n)
            busbws.append(bus)
            row.append((t, alg, bus))
        per_rank = name in ("all_gather", "reduce_scatter", "alltoall")
        elements = sz // 4 // max(n, 1) if per_rank else sz // 4
        wrong = "0" if check else "N/A"
        out.append(
            f"{sz:12d}  {elements:12d}  {'float':>8s}  {redop:>6s}  {'-1':>6s}"
            + "".join(f"  {t:7.2f}  {a:6.2f}  {b:6.2f}  {wrong:>6s}" for t, a, b in row)
        )
        results.append((sz, elements, row))
        sz *= factor
    avg = sum(busbws) / max(len(busbws), 1)
    out += [
        "# Out of bounds values : 0 OK",
        f"# Avg bus bandwidth    : {avg:g} ",
        "#",
        f"# Collective test concluded: {prog}",
        "#",
    ]
    print("\n".join(out), flush=True)
    if json_out:
        _nccl_json(
            json_out,
            prog,
            redop,
            devices,
            results,
            avg,
            {
                "minimum_bytes": minb,
                "maximum_bytes": maxb,
                "step_factor": factor,
                "iterations": iters,
                "validation": check,
                "ngpus": ngpus,
            },
        )
    return 0


def _nccl_json(
    path: str,
    prog: str,
    redop: str,
    devices: list[Any],
    results: list[Any],
    avg: float,
    config: dict[str, int],
) -> None:
    doc = {
        "version": 3,
        "simulated": True,
        "start_time": "2026-01-01 00:00:00",
        "args": [prog],
        "env": ["AICTL_LAB=1"],
        "nccl_version": "2.23.4",
        "config": {
            "nthreads": 1,
            "warmup_iters": 1,
            "aggregated_iterations": 1,
            "graph": 0,
            "blocking_collectives": 0,
            "per_iter_timing": 0,
            "per_iter_skip": 0,
            "parallel_init": 0,
            **config,
            "devices": [
                {
                    "rank": i,
                    "group": 0,
                    "pid": pid,
                    "hostname": host,
                    "device": gpu,
                    "device_hex": f"0x{bus:02x}",
                    "device_info": name,
                }
                for i, pid, host, gpu, bus, name in devices
            ],
        },
        "results": [
            {
                "size": sz,
                "count": el,
                "type": "float",
                "redop": redop,
                "root": "    -1",
                "out_of_place": {
                    "time": row[0][0],
                    "alg_bw": row[0][1],
                    "bus_bw": row[0][2],
                    "nwrong": 0.0,
                },
                "in_place": {
                    "time": row[1][0],
                    "alg_bw": row[1][1],
                    "bus_bw": row[1][2],
                    "nwrong": 0.0,
                },
                "actual_iterations": config["iterations"],
                "experiment_name": "",
            }
            for sz, el, row in results
        ],
        "out_of_bounds": {"count": 0, "okay": "true"},
        "average_bus_bandwidth": {"bandwidth": avg, "okay": "unchecked"},
        "errors": [""],
        "end_time": "2026-01-01 00:00:01",
    }
    with open(path, "w") as fh:
        json.dump(doc, fh, indent=2)


TOOLS = {
    "nvidia-smi": nvidia_smi,
    "ibstat": ibstat,
    "ibv_devinfo": ibv_devinfo,
    "ibdev2netdev": ibdev2netdev,
    "show_gids": show_gids,
    "ofed_info": ofed_info,
    "lspci": lspci,
    "setpci": setpci,
    "lsmod": lsmod,
    "systemctl": systemctl,
    "lldpctl": lldpctl,
    "dmesg": dmesg,
    "dcgmi": dcgmi,
    "ethtool": ethtool,
    "mlnx_qos": mlnx_qos,
}


def _vendor_module(vendor: str) -> Any:
    """The simulated tools of an AMD or Ascend node (they sit next to this file)."""
    name = {"amd": "simamd", "huawei": "simascend"}[vendor]
    try:
        import importlib

        return importlib.import_module(f"aictl.lab.{name}")
    except ImportError:  # inside a lab node
        sys.path.insert(0, SHARED)
        import importlib

        return importlib.import_module(name)


def main(argv: list[str]) -> int:
    tool = os.path.basename(argv[0])
    hw = load()
    vendor = hw.get("vendor", "nvidia")
    if vendor != "nvidia":
        mod = _vendor_module(vendor)
        if tool in mod.TOOLS:
            return int(mod.TOOLS[tool](argv[1:], hw))
        if vendor == "huawei" and tool in mod.HCCL:
            return int(mod.hccl_test(tool, argv[1:], hw, _model(), _fabric()))
    if tool in TITLES:
        return perftest(tool, argv[1:], hw)
    if tool in NCCL:
        return nccl_test(tool, argv[1:], hw)
    if tool not in TOOLS:
        print(f"aictl-lab simulator: unknown tool {tool}", file=sys.stderr)
        return 127
    return TOOLS[tool](argv[1:], hw)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
