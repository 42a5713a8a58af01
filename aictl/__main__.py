"""`python -m aictl` runs the CLI."""

from aictl.cli.main import main

main()
