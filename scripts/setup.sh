#!/usr/bin/env bash
# Install everything aictl and its tests need on a fresh Debian machine, as root:
# Debian packages (real tools used as oracles and by the lab), then a venv in .venv.
# Idempotent: installs only what is missing; re-installs the package when pyproject changes.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(ca-certificates git iproute2 iputils-ping python3 openssh-server openssh-client
      openmpi-bin ibsim-utils opensm infiniband-diags librsvg2-bin netplan.io frr
      chromium fonts-dejavu-core)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null 2>&1 || missing+=(python3)
"$PY" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$PY" - <<'PYCHECK'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"setup: aictl needs Python 3.11+, {sys.executable} is {sys.version.split()[0]}")
PYCHECK

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.aictl-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: pip install -e .[dev] into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
# byte-compile aictl as a wheel install would (start-up time; the environment may disable
# writing bytecode at run time)
.venv/bin/python -m compileall -q aictl >/dev/null
