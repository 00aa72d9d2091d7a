"""SIGTERM and SIGHUP handled like Ctrl-C while a command runs.

`timeout`, `docker stop`, job schedulers and a closed ssh session end a process with SIGTERM or
SIGHUP, whose default action kills Python without running any `finally` or `except` block: the
MLflow run would stay RUNNING forever. Inside `interrupts_as_keyboard()` those signals raise
`Terminated` (a KeyboardInterrupt), so the same clean-up as for Ctrl-C runs; the previous
handlers are restored on exit. Only the main thread can install handlers; elsewhere it does nothing.

An interrupt that lands in a destructor or a weakref callback (the garbage collector runs them
anywhere) is swallowed by Python ("Exception ignored in ..."), and the command would go on as if
Ctrl-C had never been pressed (seen once in 30 interrupted `comp train` runs). Inside the block
such an interrupt is sent again a moment later, to arrive in ordinary code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM or SIGHUP arrives inside `interrupts_as_keyboard`."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"received {signal.Signals(signum).name}")
        self.signum = signum


def signal_number(exc: BaseException) -> int:
    """The signal that caused an interruption: its `signum` (SIGTERM/SIGHUP for `Terminated`), else SIGINT."""
    return int(getattr(exc, "signum", signal.SIGINT))


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def exit_code(exc: BaseException) -> int:
    """128 + the signal number, the shell convention (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + signal_number(exc)


def _restore(previous: dict[int, Any]) -> None:
    """Put back the handlers `signal.signal` returned (None, set outside Python: the default)."""
    for sig, handler in previous.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


RESEND_DELAY_S = 0.01
"""How long after a swallowed interrupt it is sent again: long enough for the destructor that
swallowed it to return (the signal handler runs at the main thread's next check, which inside the
unraisable hook itself would be swallowed too)."""


def _resend_swallowed_interrupts(previous: Any, ended: threading.Event) -> Any:
    """A `sys.unraisablehook` that sends a swallowed KeyboardInterrupt's signal again after
    RESEND_DELAY_S, unless the block has ended by then (the command is over); other unraisable
    exceptions go to `previous`."""

    def resend(signum: int) -> None:
        if not ended.is_set():
            os.kill(os.getpid(), signum)

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            timer = threading.Timer(RESEND_DELAY_S, resend, (signal_number(unraisable.exc_value),))
            timer.daemon = True
            timer.start()
            return
        previous(unraisable)

    return hook


@contextlib.contextmanager
def interrupts_as_keyboard() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise `Terminated` (a KeyboardInterrupt), and an
    interrupt swallowed in a destructor or weakref callback is sent again (`sys.unraisablehook`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in HANDLED:
        previous[sig] = signal.signal(sig, _raise_terminated)
    previous_hook, ended = sys.unraisablehook, threading.Event()
    sys.unraisablehook = _resend_swallowed_interrupts(previous_hook, ended)
    try:
        yield
    finally:
        ended.set()
        sys.unraisablehook = previous_hook
        _restore(previous)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP back for a short block that must not be cut in two (a
    trial created in a shared study and recorded as ours); on exit the handlers in force before
    are restored and the first signal that arrived is delivered to them (KeyboardInterrupt or
    `Terminated`, or the default action). Outside the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    import os

    arrived: list[int] = []
    previous = {}
    for sig in (signal.SIGINT, *HANDLED):
        previous[sig] = signal.signal(sig, lambda signum, frame: arrived.append(signum))
    try:
        yield
    finally:
        _restore(previous)
        if arrived:
            first = previous[arrived[0]]
            if callable(first):
                first(arrived[0], None)
            elif first == signal.SIG_DFL:
                os.kill(os.getpid(), arrived[0])
