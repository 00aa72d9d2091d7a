"""The `comp` console script, also run by `python -m competition ...`.

Importing the command line (Typer, rich, the settings and competition modules) and building its
commands take about 0.3 s, outside any command's own Ctrl-C handling; an interrupt there ended in
a traceback from the middle of an import. `main` ends it quietly instead, with 128 + the signal
number (130 for Ctrl-C), like every command does."""

from __future__ import annotations

import sys


def main() -> None:
    """Run `comp` with the process's arguments (`competition.cli.app`)."""
    try:
        from competition.cli import app

        app()
    except KeyboardInterrupt as exc:  # a command's own handler reports what it had done; this is before it
        from competition.signals import exit_code, signal_name, signal_number

        sys.stderr.write(f"comp: interrupted ({signal_name(signal_number(exc))}).\n")
        raise SystemExit(exit_code(exc)) from None


if __name__ == "__main__":
    main()
