"""Is a RUNNING run still alive? A per-run lock for this machine, a heartbeat for everyone.

- `RunLock`: an exclusive `fcntl.flock` on `<checkpoint folder>/lock`, held while a process
  trains the run. The kernel drops it when the process dies (even by kill -9), so a dead process
  never blocks `--resume`, and a second `--resume` of a live run is refused. It only tells
  processes on the machine (and file system) that holds the checkpoint folder.
- `Heartbeat`: a daemon thread that sets the run's `comp.heartbeat` tag (Unix seconds) every
  `interval` seconds while it trains, so any machine reading the tracking server sees it.
- `classify`: what `comp runs` shows for a RUNNING run: live, dead or stale.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from competition.errors import CompError

HEARTBEAT_TAG = "comp.heartbeat"
INTERVAL_TAG = "comp.heartbeat_interval"
DEFAULT_INTERVAL_S = 30.0
STALE_AFTER_INTERVALS = 4
"""A RUNNING run whose last heartbeat is older than this many intervals is shown as stale."""
LOCK_NAME = "lock"


def heartbeat_interval() -> float:
    """Seconds between heartbeats: COMP_HEARTBEAT_SECONDS if set (tests), else 30."""
    try:
        return max(0.05, float(os.environ.get("COMP_HEARTBEAT_SECONDS", DEFAULT_INTERVAL_S)))
    except ValueError:
        return DEFAULT_INTERVAL_S


class RunLock:
    """Exclusive per-run lock on `<folder>/lock` (the run's checkpoint folder)."""

    def __init__(self, folder: Path, run_id: str) -> None:
        self.path = folder / LOCK_NAME
        self.run_id = run_id
        self._file: Any = None

    def acquire(self) -> None:
        """Take the lock or raise CompError naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")  # noqa: SIM115 (held open for the lock's lifetime); "a+" keeps the holder's text
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise CompError(
                    f"Run {self.run_id} is being trained right now by {holder} (lock {self.path}); "
                    "wait for it to finish or stop it first."
                ) from None
            raise
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_state(folder: Path) -> str:
    """'held' (a live process on this machine trains the run), 'free' (its process died) or
    'absent' (no lock file here). Opens the file read-only, so it works in a read-only workspace."""
    path = folder / LOCK_NAME
    try:
        f = open(path)  # noqa: SIM115
    except OSError:
        return "absent"
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            return "held" if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN) else "absent"
        fcntl.flock(f, fcntl.LOCK_UN)
        return "free"


class Heartbeat:
    """Sets `comp.heartbeat` on a run now and every `interval` seconds until stopped (best effort:
    a failed write is retried at the next beat, never raised into the training)."""

    def __init__(self, client: Any, run_id: str, interval: float | None = None) -> None:
        self.client = client
        self.run_id = run_id
        self.interval = interval or heartbeat_interval()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"comp-heartbeat-{run_id[:8]}", daemon=True)

    def beat(self) -> None:
        with contextlib.suppress(Exception):
            self.client.set_tag(self.run_id, HEARTBEAT_TAG, f"{time.time():.0f}")

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def start(self) -> Heartbeat:
        with contextlib.suppress(Exception):
            self.client.set_tag(self.run_id, INTERVAL_TAG, f"{self.interval:g}")
        self.beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Liveness:
    state: str
    """'live', 'dead', 'stale', 'unknown', or '' for runs that are not RUNNING."""
    detail: str


def _ago(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def classify(status: str, tags: dict[str, str], lock: str, now: float | None = None) -> Liveness:
    """Whether a run is alive: a RUNNING run is 'live' if this machine's lock is held or its
    heartbeat is fresh, 'dead' if its lock file here is no longer held (the process died),
    'stale' if its last heartbeat is older than STALE_AFTER_INTERVALS intervals, and 'unknown'
    when it never sent one (runs from before heartbeats, or a process that died at once)."""
    if status != "RUNNING":
        return Liveness("", "")
    if lock == "held":
        return Liveness("live", "its process holds the run lock on this machine")
    if lock == "free":
        return Liveness("dead", "its process on this machine has ended; `comp train --resume` continues it")
    now = time.time() if now is None else now
    try:
        last = float(tags[HEARTBEAT_TAG])
    except (KeyError, ValueError):
        return Liveness("unknown", "no heartbeat recorded")
    try:
        interval = float(tags.get(INTERVAL_TAG, DEFAULT_INTERVAL_S))
    except ValueError:
        interval = DEFAULT_INTERVAL_S
    age = max(0.0, now - last)
    if age <= STALE_AFTER_INTERVALS * interval:
        return Liveness("live", f"heartbeat {_ago(age)} ago")
    return Liveness("stale", f"no heartbeat for {_ago(age)}: its process has probably died")
