"""A typer-free path for `aictl spec validate FILE`, the command editors and hooks call often.

Loading typer costs a third of the 0.3 s budget; this path parses the one argument shape
itself and shares the command body with `aictl/cli/spec.py`. Anything else goes to typer.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aictl.errors import AictlError, ExitCode


def validate_line(file: Path) -> str:
    """Validate `file` and return the one-line success message (raises SpecError)."""
    from aictl.spec.loader import load_spec
    from aictl.spec.rules import hostnames, rails_text

    s = load_spec(file).spec
    return f"ok: {file}: cluster {s.name}, {len(hostnames(s))} nodes, {rails_text(s)} rails"


def try_fast(argv: list[str]) -> int | None:
    """Exit code if `argv` was handled here, None to fall through to typer."""
    if len(argv) != 3 or argv[:2] != ["spec", "validate"] or argv[2].startswith("-"):
        return None
    try:
        sys.stdout.write(validate_line(Path(argv[2])) + "\n")
    except AictlError as exc:
        from aictl import ui

        ui.print_error(exc)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return int(ExitCode.INTERRUPTED)
    return int(ExitCode.OK)
