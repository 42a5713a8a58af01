#!/usr/bin/python3
"""Simulated GPU and HCA tools for lab nodes (stdlib only: runs with the node's python3).

Installed in each lab node as /usr/local/bin/<tool> -> this file; dispatches on the name it
was called by. Reads /etc/aictl-lab/hardware.json (the node's simulated hardware, faults
included) on every call and prints the real tool's format, headed by a marker line
`# aictl-lab: simulated <tool> output (<node>)` that parsers keep.
"""

from __future__ import annotations

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

    for g in gpus:
        cells = [
            " X " if o is g else f"NV{g['nvlinks']}" if hw["nvswitch"] else "SYS" for o in gpus
        ]
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
    elif args[:1] == ["nvlink"]:
        only = int(args[args.index("-i") + 1]) if "-i" in args else None
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


def ofed_info(args: list[str], hw: dict[str, Any]) -> int:
    print(f"{hw['ofed']}:" if "-s" in args else f"{mark('ofed_info', hw)}\n{hw['ofed']}:")
    return 0


# ---- PCIe, modules, services ------------------------------------------------------------
def lspci(args: list[str], hw: dict[str, Any]) -> int:
    devices: list[tuple[str, str, dict[str, Any], str]] = []
    for b in hw["bridges"]:
        devices.append((b["bdf"], "PCI bridge: PLX Technology, Inc. PEX 88096 (sim)", b, "bridge"))
    for g in hw["gpus"]:
        devices.append(
            (g["bdf"][4:].lower(), f"3D controller: NVIDIA Corporation {g['model']}", g, "gpu")
        )
    for n in hw["nics"]:
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
        if not verbose:
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


def systemctl(args: list[str], hw: dict[str, Any]) -> int:
    if len(args) >= 2 and args[0] == "is-active" and args[1].startswith("nvidia-fabricmanager"):
        state = hw["fabricmanager"] if hw["nvswitch"] else "inactive"
        print(state)
        return 0 if state == "active" else 3
    os.execv("/usr/bin/systemctl", ["systemctl", *args])
    return 1


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
}


def main(argv: list[str]) -> int:
    tool = os.path.basename(argv[0])
    if tool not in TOOLS:
        print(f"aictl-lab simulator: unknown tool {tool}", file=sys.stderr)
        return 127
    return TOOLS[tool](argv[1:], load())


if __name__ == "__main__":
    sys.exit(main(sys.argv))
