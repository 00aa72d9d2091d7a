"""Keep Python's cyclic garbage collector off the long-lived heap of a long command, and keep
glibc's allocator from spreading it over many arenas.

A `comp train` process holds millions of objects made at import time (torch, MLflow, SQLAlchemy,
polars, matplotlib) that live until it exits. Every full collection walks all of them, and so
does the last one Python runs when it exits: measured on `comp train house-prices` (real files,
2 cores), 1.7 s of full collections during the run and 1.5 s at exit. `gc.freeze` (Python 3.7+,
see the `gc` module's documentation) moves the objects that exist now into a generation the
collector never visits; objects made afterwards are collected as usual.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import platform
import sys
from collections.abc import Iterator

ARENAS = 2
"""`limit_malloc_arenas`' default: glibc's own is 8 per core."""
_M_ARENA_MAX = -8
"""mallopt's parameter number for the arena limit (glibc's malloc.h)."""


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Freeze the objects that exist now for the block, unfreezing them at its end (so a notebook
    that calls `comp.train` gets its garbage collected afterwards as before). Does nothing when
    something is frozen already: whoever froze it decides when to unfreeze."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def skip_collection_at_exit() -> None:
    """Freeze the whole heap just before the interpreter's final collection. atexit runs its
    handlers last in, first out, so call this at start-up, before other libraries register theirs
    (MLflow's then run before the freeze), and in a command-line entry point only. The process's
    memory goes back to the system when it ends; `__del__` methods of objects in reference cycles
    are then not run, which comp does not rely on (files are written atomically and closed where
    they are written)."""
    atexit.register(gc.freeze)


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at `arenas` (`mallopt(M_ARENA_MAX)`, the setting behind the
    MALLOC_ARENA_MAX environment variable; see glibc's manual, "Memory Allocation Tunables").

    glibc gives threads that allocate at the same time arenas of their own, and memory freed in one
    arena serves only that arena's later requests. `comp train` allocates large transient arrays in
    several threads at once (the MLP's batches in the main thread, LightGBM and linear folds beside
    it), so the freed memory of one thread sat idle while another grew: measured on full-size
    California (three families, 2 cores), peak RSS 2.78-2.83 GB with glibc's default against
    2.63 GB with 2 arenas. Returns whether the cap was set: not where the C library is not glibc,
    nor when MALLOC_ARENA_MAX is set (the user's choice, which glibc reads itself). Call it at
    start-up, in a command-line entry point only (it holds for the whole process)."""
    if sys.platform != "linux" or "MALLOC_ARENA_MAX" in os.environ or platform.libc_ver()[0] != "glibc":
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))
