"""`python -m nudge` is the `nudge` command."""

from nudge.cli import main

main()
