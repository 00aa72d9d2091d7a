"""Exceptions the CLI prints without a traceback, and the exit code of each kind.

Exit codes (documented in README and docs/bad-input.md):
  0  success
  1  a bug (an unexpected exception; its traceback is shown)
  2  bad input: `CompError`, something the user can fix in files, options or settings
  3  environment failure: `EnvironmentFailure`, the machine or a service (disk full, read-only
     folder, not enough memory, a tracking server that does not answer, a damaged MLflow store)
  128 + signal number after an interruption: 130 for Ctrl-C (SIGINT), 143 for SIGTERM, 129 for SIGHUP
"""

from __future__ import annotations

import errno

EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3


class CompError(Exception):
    """A user-facing error: the message says what is wrong and where (file, column, rows)."""

    exit_code = EXIT_BAD_INPUT


class EnvironmentFailure(CompError):
    """The environment, not the input, stopped the command: disk full, read-only or missing
    permissions, memory, an unreachable tracking server, a damaged store. Exit code 3."""

    exit_code = EXIT_ENVIRONMENT


_OS_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "an input/output error from the device",
    errno.ENOMEM: "out of memory",
}


def is_environment_os_error(exc: BaseException) -> bool:
    """True for OSErrors caused by the machine (disk full, read-only, permissions, I/O)."""
    return isinstance(exc, OSError) and exc.errno in _OS_REASONS


def environment_failure(exc: OSError, doing: str) -> EnvironmentFailure:
    """An EnvironmentFailure that says what was being done, which file and why (from errno)."""
    reason = _OS_REASONS.get(exc.errno or 0, exc.strerror or str(exc))
    where = f" ({exc.filename})" if exc.filename else ""
    return EnvironmentFailure(f"Could not {doing}{where}: {reason}. Free space or fix the permissions, then retry.")


def describe_rows(rows: list[int], limit: int = 5) -> str:
    """'rows 3, 7, 9 and 12 more' with 1-based data-row numbers as a spreadsheet shows them."""
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} {shown}{more}"
