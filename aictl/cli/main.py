"""Console-script entry: a lean path for `spec validate`, typer for everything else."""

from __future__ import annotations

import sys


def main() -> None:
    """Run aictl with sys.argv."""
    from aictl.cli.fast import try_fast

    code = try_fast(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from aictl.cli.app import app

    app()
