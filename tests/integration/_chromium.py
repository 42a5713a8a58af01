"""Headless chromium against a report: a screenshot with no network (unshare -n), its log
(console messages and failed loads), and a check that the picture is not blank."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from tests.conftest import require_tools


def chromium() -> str:
    require_tools("chromium", "unshare")
    path = shutil.which("chromium")
    assert path is not None
    return path


# chromium's own background services (component updates, time); a page has no business here
_BROWSER_HOSTS = ("google.com", "googleapis.com", "gvt1.com")


def page_requests(netlog: Path) -> list[str]:
    """http(s) URLs the page asked for, from chromium's net log."""
    import re

    urls = set(re.findall(r'"url":"(https?://[^"]+)"', netlog.read_text(errors="replace")))
    return sorted(u for u in urls if not any(h in u.split("/")[2] for h in _BROWSER_HOSTS))


def screenshot(html: Path, png: Path, *, height: int = 2400) -> str:
    """Render `html` to `png` without network (net log beside it); returns chromium's log."""
    prof = png.parent / "chrome-profile"
    cmd = [
        "unshare",
        "-n",
        chromium(),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={prof}",
        f"--log-net-log={png.with_suffix('.netlog.json')}",
        f"--window-size=1280,{height}",
        f"--screenshot={png}",
        f"file://{html}",
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    return p.stdout + p.stderr


def png_pixels(png: Path) -> bytes:
    """The decompressed image data of a PNG (filter bytes included)."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return zlib.decompress(idat)


def not_blank(png: Path) -> bool:
    """More than a background: many distinct byte values and >1 % non-white bytes."""
    px = png_pixels(png)
    return len(set(px)) > 32 and sum(1 for b in px[::7] if b != 0xFF) > len(px[::7]) // 100
