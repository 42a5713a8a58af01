"""The command line: typer apps, one module per command group; the only layer that exits."""
