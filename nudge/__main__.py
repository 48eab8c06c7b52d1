"""`python -m nudge` is the `nudge` command."""

from nudge.cli import main

if __name__ == "__main__":  # a spawned reader process imports this module too
    main()
