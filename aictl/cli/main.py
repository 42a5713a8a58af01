"""Console-script entry: a lean path for `spec validate`, typer for everything else."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run aictl with sys.argv."""
    # aictl uses no pydantic plugins; looking them up scans every installed distribution's
    # entry points (~25 ms of the 0.3 s start-up budget)
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        from aictl.cli.fast import try_fast

        code = try_fast(sys.argv[1:])
        if code is not None:
            sys.exit(code)
        from aictl.cli.app import app

        app()
    except KeyboardInterrupt:
        # Ctrl-C while starting up (a command's own is handled in cli/_handle.py): one line
        sys.stderr.write("interrupted\n")
        sys.exit(130)
