"""The grammars of the places spec values go, so nothing in a spec can turn into config.

A hostname ends up in cabling.csv, hostfiles, `kubectl label` and file names; an NCCL
variable in /etc/nccl.conf; the namespace in every Kubernetes manifest. Each field is held to
the grammar of where it goes (a DNS-1123 label, an OCI image reference, an environment
variable name, one line of text), so a newline, a leading dash or 10,000 characters is a spec
error with file:line, never a line of someone's config. `DESCRIBE` words each pattern for the
loader's messages. The patterns run in pydantic's regex engine (no look-around).
"""

from __future__ import annotations

import re

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DNS_LABEL = rf"^{_LABEL}$"
DNS_SUBDOMAIN = rf"^{_LABEL}(?:\.{_LABEL})*$"
# netdev names: Linux takes 15 bytes and refuses '/', ':' and whitespace; no leading '-' or '.'
NETDEV = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$"
RDMA_DEVICE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
# racks become inventory groups (rack01) and node labels: a label value without '.'
RACK = r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$"
PARTITION = r"^[A-Za-z0-9_]{1,64}$"
ENV_NAME = r"^[A-Z_][A-Z0-9_]{0,127}$"
# one line: no control characters (a newline would add a line to the file it reaches)
ENV_VALUE = r"^[^\x00-\x1f\x7f]{0,4096}$"
TEXT = r"^[^\x00-\x1f\x7f]{1,128}$"

# OCI image reference (the distribution grammar): [domain[:port]/]path[:tag][@digest]
_ALNUM = r"[a-z0-9]+"
_PATH_PART = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_PART = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}"
IMAGE_REF = rf"^(?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*(?::{_TAG})?(?:@{_DIGEST})?$"

DESCRIBE = {
    DNS_LABEL: "a DNS-1123 label: lower-case letters, digits and '-', at most 63, "
    "starting and ending with a letter or digit",
    DNS_SUBDOMAIN: "a DNS-1123 subdomain: DNS labels joined by '.'",
    NETDEV: "a Linux interface name: at most 15 letters, digits, '_', '.' or '-', "
    "not starting with '-' or '.'",
    RDMA_DEVICE: "an RDMA device name like mlx5_0: letters, digits, '_', '.' or '-', "
    "not starting with '-' or '.'",
    RACK: "a rack name: letters, digits, '_' and '-', at most 63, starting and ending "
    "with a letter or digit",
    PARTITION: "a partition name: letters, digits and '_', at most 64",
    ENV_NAME: "an environment variable name: upper-case letters, digits and '_', "
    "not starting with a digit",
    ENV_VALUE: "one line of text: no newline or other control character, at most 4096",
    TEXT: "one line of text: no newline or other control character, 1 to 128 characters",
    IMAGE_REF: "an OCI image reference: [registry[:port]/]name[:tag][@digest], the name in "
    "lower case",
}

_HOSTNAME_RE = re.compile(DNS_LABEL)


def shown(value: object) -> str:
    """repr of `value` on one line, a long one cut to its start and length."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


def bad_hostname(name: str) -> str:
    """Why `name` cannot be a hostname ('' when it can)."""
    return "" if _HOSTNAME_RE.fullmatch(name) else f"not {DESCRIBE[DNS_LABEL]}"
