"""`python -m competition ...` runs the `comp` command line."""

from competition.cli import main

main()
