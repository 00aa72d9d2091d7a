"""Run a web server (the MLflow UI) as a child process group that never outlives `comp ui`.

The server starts in its own session (`start_new_session=True`), so it and every worker it forks
share one process group whose id is the server's pid. Whatever ends `comp ui` (Ctrl-C, SIGTERM,
SIGHUP, an error, the server dying) ends in `stop_group`: SIGTERM to the whole group, then SIGKILL
to whatever is left after a bounded grace period. A taken port is refused before anything
starts (CompError); a server that fails to start or dies makes `serve` return 3 (the toolkit's
exit code for an environment failure). Every wait is bounded. (A SIGKILL of `comp ui` itself
cannot be caught; that alone can leave the group behind.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from competition.errors import CompError

SERVER_FAILED = 3
"""Exit code when the server fails to start or dies (the CLI's code for an environment failure)."""
STOP_GRACE_S = 10.0
"""Seconds the server group gets to exit after SIGTERM before it is killed."""


class _Stop(Exception):
    """Raised in the main thread by the SIGTERM/SIGHUP handlers."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def check_port_free(host: str, port: int) -> None:
    """CompError when `host:port` cannot be bound now (another server listens there)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As servers do: a port left in TIME_WAIT by a stopped server can be bound again, a listening one cannot.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise CompError(
                f"Cannot serve on {host}:{port}: {exc.strerror or exc}. Another server (an earlier `comp ui`?) "
                "may be using it; stop it or pick another --port."
            ) from None


def probe_host(host: str) -> str:
    """The address to reach a server bound to `host` (a wildcard bind is reached on loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    """True when GET `url` answers 200 within `timeout` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group `pgid`, from /proc (Linux)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def group_alive(pgid: int) -> bool:
    """Whether any live process of group `pgid` is left (zombies awaiting their reaper do not count)."""
    if Path("/proc/self/stat").exists():
        return bool(group_members(pgid))
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(proc: subprocess.Popen, grace: float = STOP_GRACE_S) -> None:
    """SIGTERM the process group led by `proc`, wait up to `grace` s, then SIGKILL what is left."""
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.1)
        if proc.poll() is not None and not group_alive(pgid):
            return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


def serve(
    cmd: Sequence[str],
    host: str,
    port: int,
    health_path: str = "/health",
    start_timeout: float = 180.0,
    on_ready: Callable[[], None] | None = None,
    on_status: Callable[[str], None] | None = None,
) -> int:
    """Run `cmd` (a server for `host:port`) until it exits or `comp ui` is told to stop.

    Returns 0 after a requested stop (Ctrl-C, SIGTERM, SIGHUP: the normal way to end a server);
    `SERVER_FAILED` (3) when the server exits on its own or does not answer `health_path` within
    `start_timeout` seconds. Raises CompError (port taken) before starting anything.
    The whole process group is stopped on every path out."""
    say = on_status or (lambda _msg: None)
    check_port_free(host, port)
    url = f"http://{probe_host(host)}:{port}{health_path}".replace("://::1", "://[::1]")
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}

    def raise_stop(signum: int, _frame: object) -> None:
        raise _Stop(signum)

    for sig in previous:
        with contextlib.suppress(ValueError):  # not the main thread: Ctrl-C and the finally still stop it
            signal.signal(sig, raise_stop)
    proc: subprocess.Popen | None = None
    try:
        proc = subprocess.Popen(list(cmd), start_new_session=True)
        deadline = time.monotonic() + start_timeout
        while not is_healthy(url):
            if proc.poll() is not None:
                say(f"the server exited with code {proc.returncode} before answering {url}")
                return SERVER_FAILED
            if time.monotonic() > deadline:
                say(f"the server did not answer {url} within {start_timeout:.0f} s; stopping it")
                return SERVER_FAILED
            time.sleep(0.25)
        if on_ready is not None:
            on_ready()
        code = proc.wait()
        say(f"the server exited on its own with code {code}")
        return SERVER_FAILED
    except (KeyboardInterrupt, _Stop):
        return 0
    finally:
        if proc is not None:
            stop_group(proc)
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
