"""Run the command line: ``python -m evaltoolkit``."""

from evaltoolkit.cli import main

main()
