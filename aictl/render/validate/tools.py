"""Real-tool checks: `netplan generate --root-dir` and `vtysh -C`, never touching the host."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from aictl.render.validate import Finding

if TYPE_CHECKING:
    from aictl.artifact import Artifact


def _pick(arts: list[Artifact], sample: int | None) -> list[Artifact]:
    return arts if sample is None else arts[:sample]


def check_netplan(artifacts: list[Artifact], *, sample: int | None = None) -> list[Finding]:
    """Each netplan file through `netplan generate`, with the networkd and NM renderers."""
    files = _pick([a for a in artifacts if "/etc/netplan/" in a.path], sample)
    if not files:
        return []
    tool = shutil.which("netplan")
    if tool is None:
        return [
            Finding(
                files[0].path,
                "netplan generate",
                "skipped",
                "netplan is not installed (apt-get install netplan.io)",
            )
        ]
    out: list[Finding] = []
    for art in files:
        for renderer in ("networkd", "NetworkManager"):
            text = re.sub(rb"(?m)^  renderer: \S+$", f"  renderer: {renderer}".encode(), art.data)
            with tempfile.TemporaryDirectory(prefix="aictl-netplan-") as d:
                etc = Path(d) / "etc" / "netplan"
                etc.mkdir(parents=True)
                f = etc / Path(art.path).name
                f.write_bytes(text)
                f.chmod(0o600)
                p = subprocess.run(
                    [tool, "generate", "--root-dir", d], capture_output=True, text=True, check=False
                )
                msg = p.stderr.replace(d + "/", "").strip()
            ok = p.returncode == 0
            out.append(
                Finding(
                    art.path,
                    f"netplan generate ({renderer})",
                    "ok" if ok else "error",
                    "" if ok else msg,
                )
            )
    return out


def check_frr(artifacts: list[Artifact], *, sample: int | None = None) -> list[Finding]:
    """Each FRR config through `vtysh -C` (a syntax check; no daemon is started)."""
    files = _pick([a for a in artifacts if a.path.endswith("/frr.conf")], sample)
    if not files:
        return []
    tool = shutil.which("vtysh")
    if tool is None:
        return [
            Finding(
                files[0].path, "vtysh -C", "skipped", "FRR is not installed (apt-get install frr)"
            )
        ]
    out: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="aictl-frr-") as d:
        (Path(d) / "vtysh.conf").write_text("service integrated-vtysh-config\n")
        shutil.chown(d, "frr", "frr") if _has_user("frr") else None
        for art in files:
            conf = Path(d) / "check.conf"
            conf.write_bytes(art.data)
            p = subprocess.run(
                [tool, "--config_dir", d, "-C", "-f", str(conf)],
                capture_output=True,
                text=True,
                check=False,
            )
            ok = p.returncode == 0
            msg = (p.stdout + p.stderr).strip()
            out.append(Finding(art.path, "vtysh -C", "ok" if ok else "error", "" if ok else msg))
    return out


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
