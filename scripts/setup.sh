#!/usr/bin/env bash
# Install everything aictl and its tests need on a fresh Debian machine, as root:
# Debian packages (real tools used as oracles and by the lab), then a venv in .venv.
# Idempotent: installs only what is missing; rebuilds .venv when the lock or pyproject changes.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(ca-certificates git iproute2 iputils-ping python3 openssh-server openssh-client
      openmpi-bin ibsim-utils opensm infiniband-diags librsvg2-bin netplan.io frr
      chromium fonts-dejavu-core munge slurmctld slurmd slurm-client)
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

# .venv holds exactly requirements.lock (bash scripts/lock.sh writes it): every package at its
# pinned version, each file checked against its sha256, then aictl itself without resolving
# anything. A changed lock or pyproject.toml gives a fresh .venv, so nothing outside the lock
# lingers (tests/unit/test_lock.py compares the two).
stamp=.venv/.aictl-installed
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: a fresh .venv from requirements.lock"
  rm -rf .venv
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --require-hashes --no-deps -r requirements.lock
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
fi
# byte-compile aictl as a wheel install would (start-up time; the environment may disable
# writing bytecode at run time)
.venv/bin/python -m compileall -q aictl >/dev/null
