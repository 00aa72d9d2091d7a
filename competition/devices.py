"""Pick the torch device and CPU threads: the one place every command (train, predict, blend's
members, diagnose) gets its torch thread count from."""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections.abc import Iterator

import torch

from competition.errors import CompError

DEFAULT_THREADS = 1
"""Torch CPU threads when `run.threads` is 0 (the default). One: the batched members' many small
tensor ops lose more to thread synchronisation than a second thread gains. Measured with
`comp train house-prices` (real files), variants interleaved, on the shared 2-core machine while
other sessions loaded it (2026-11-30): 1 thread 28 s vs 2 threads 158 s vs torch's default 1049 s
(5 folds x 3 seeds); 150 s vs 988 s vs 1061 s (x 1 seed). On the quiet machine two threads halve
the training phase (10.3 s vs 20.0 s): one thread's worst case is the smaller. Raw timings: README
"Torch threads"."""


def cpu_cores() -> int:
    """CPU cores of this machine (at least 1): the most threads LightGBM or the feature build use."""
    import os

    return os.cpu_count() or 1


def resolve_threads(requested: int = 0) -> int:
    """`requested` when positive, else `DEFAULT_THREADS`."""
    if requested < 0:
        raise CompError(f"run.threads must be at least 0; got {requested}.")
    return requested if requested > 0 else DEFAULT_THREADS


def resolve_device(choice: str, threads: int = 0) -> str:
    """'cpu' or 'cuda' for `choice` (auto | cpu | cuda), after setting torch's CPU threads to
    `resolve_threads(threads)`. CompError when cuda is asked for and none is visible."""
    torch.set_num_threads(resolve_threads(threads))
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise CompError("--device cuda was asked for, but no CUDA GPU is visible to torch. Use --device cpu or auto.")
    if choice not in ("cpu", "cuda"):
        raise CompError(f"--device must be auto, cpu or cuda; got {choice!r}.")
    return choice


class Stopped(Exception):
    """A piece of training ended early because its run was stopped (`CoreBudget.stop`)."""


class CoreBudget:
    """The CPU cores the families of one `comp train` share, and the run's stop flag.

    A piece of training holds its cores while it trains (`take`): the MLP its torch threads, a
    LightGBM fold its booster threads, a linear fold one core. So families that train side by
    side never ask for more threads than there are cores, and a piece's thread count is the same
    as when it trains alone (its numbers do not depend on what runs beside it). `stop` wakes
    pieces waiting for cores and sets `stopped`, which training loops poll to end early
    (Ctrl-C in the main thread, or an error in another piece).

    `total`: the cores to share, default `cpu_cores()`."""

    def __init__(self, total: int | None = None) -> None:
        self.total = max(1, total if total is not None else cpu_cores())
        self.stopped = threading.Event()
        self._free = self.total
        self._changed = threading.Condition()
        self._loan: SpareCores | None = None

    @contextlib.contextmanager
    def take(self, cores: int) -> Iterator[int]:
        """Hold `cores` cores (capped at `total`, at least 1) for the block, waiting until they are
        free; yields how many. Raises Stopped when the run is stopped before they are."""
        cores = max(1, min(cores, self.total))
        with self._changed:
            self._changed.wait_for(lambda: self._free >= cores or self.stopped.is_set())
            if self.stopped.is_set():
                raise Stopped
            self._free -= cores
        try:
            yield cores
        finally:
            self._release(cores)

    def stop(self) -> None:
        """Stop the run: waiting pieces raise Stopped, running ones at their next check."""
        self.stopped.set()
        with self._changed:
            self._changed.notify_all()

    def check(self) -> None:
        """Raise Stopped when the run is stopped (for training loops to call between steps). In the
        thread of a `lend_spare_cores` block it is also that block's step (see `SpareCores`)."""
        if self.stopped.is_set():
            raise Stopped
        loan = self._loan
        if loan is not None and loan.thread == threading.get_ident():
            loan.step()

    @contextlib.contextmanager
    def lend_spare_cores(self, held: int, ready: threading.Event) -> Iterator[SpareCores]:
        """For the block, torch in this thread may run on the budget's free cores besides the `held`
        ones it already holds, once `ready` is set (by whoever knows that no piece will want them
        any more). `check()` calls from this thread, one per epoch, drive it (`SpareCores.step`).
        At the end the cores go back and torch's thread count is what it was."""
        loan = SpareCores(self, held, ready)
        self._loan = loan
        try:
            yield loan
        finally:
            self._loan = None
            loan.give_back()

    def _take_free(self) -> int:
        """Take every free core now, without waiting; how many."""
        with self._changed:
            got, self._free = self._free, 0
        return got

    def _release(self, cores: int) -> None:
        """Give `cores` back and wake the pieces waiting for cores."""
        with self._changed:
            self._free += cores
            self._changed.notify_all()


class SpareCores:
    """Extra torch threads on cores nobody else wants, kept only while they make epochs faster.

    Torch's CPU ops here give the same bits on one thread or several (the batched trainer's
    products split over members and rows, never over a sum; `tests/test_mlp_trainer.py` switches
    threads every epoch to check it), so when the threads change never changes the numbers, only the time. After
    `ready` is set, `step` (once per epoch) takes the budget's free cores and sets torch's threads
    to `held` plus them. The median of the `WINDOW` epochs after that is compared with the median
    of the `WINDOW` epochs before it; a later window slower than that baseline counts too. When
    the extra threads do not win, they are dropped for good: on a machine that other processes
    load, OpenMP threads that wait for a busy core make the batched trainer several times slower
    (README "Torch threads"), so a thread is only kept while it is measured to help."""

    WINDOW = 5
    """Epochs per timing window (the first two epochs are skipped: allocation warm-up)."""
    clock = staticmethod(time.perf_counter)

    def __init__(self, budget: CoreBudget, held: int, ready: threading.Event) -> None:
        self.budget = budget
        self.held = held
        self.ready = ready
        self.thread = threading.get_ident()
        self.extra = 0
        self.tried = False
        self.kept_seconds: list[float] = []
        self._base_threads = torch.get_num_threads()
        self._last: float | None = None
        self._before: list[float] = []
        self._after: list[float] = []
        self._baseline: float | None = None
        self._seen = 0

    def step(self) -> None:
        """One epoch ended: time it, and take, keep or drop the spare cores."""
        if self.tried and not self.extra:
            return  # given back for good, or nothing was free: nothing left to decide
        now = self.clock()
        last, self._last = self._last, now
        self._seen += 1
        if last is None or self._seen <= 2:
            return
        took = now - last
        if self.extra == 0:
            self._before = [*self._before, took][-self.WINDOW:]
            if not self.tried and self.ready.is_set() and len(self._before) == self.WINDOW:
                self.tried = True
                self.extra = self.budget._take_free()
                if self.extra:
                    self._baseline = statistics.median(self._before)
                    torch.set_num_threads(self.held + self.extra)
            return
        self._after.append(took)
        if len(self._after) == self.WINDOW:
            median = statistics.median(self._after)
            self._after = []
            assert self._baseline is not None
            if median >= self._baseline:
                self.give_back()
            else:
                self.kept_seconds.append(median)

    def give_back(self) -> None:
        """Return the spare cores (if held) and restore torch's thread count."""
        if self.extra:
            torch.set_num_threads(self._base_threads)
            self.budget._release(self.extra)
            self.extra = 0
