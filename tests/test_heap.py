"""competition.heap: the long-lived heap is kept out of full collections, then handed back."""

from __future__ import annotations

import gc
import platform
import subprocess
import sys

import pytest

from competition.heap import frozen_heap


def test_frozen_heap_freezes_for_the_block_and_unfreezes_after() -> None:
    assert gc.get_freeze_count() == 0
    kept = [object() for _ in range(10)]
    with frozen_heap():
        assert gc.get_freeze_count() >= len(kept)
    assert gc.get_freeze_count() == 0  # a notebook's objects are collectable again


def test_frozen_heap_leaves_a_freeze_it_did_not_make_alone() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with frozen_heap():
            pass
        assert gc.get_freeze_count() == frozen  # not unfrozen by us
    finally:
        gc.unfreeze()


def test_the_exit_freeze_runs_after_handlers_registered_later() -> None:
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('after', gc.get_freeze_count() > 0))\n"  # runs last
        "from competition.heap import skip_collection_at_exit\n"
        "skip_collection_at_exit()\n"
        "atexit.register(lambda: print('before', gc.get_freeze_count() > 0))\n"  # runs first
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["before", "False", "after", "True"]


ARENA_COUNT = """
import ctypes, os, sys, tempfile, threading
import numpy as np
from competition.heap import limit_malloc_arenas
capped = limit_malloc_arenas() if sys.argv[1] == "cap" else False
together = threading.Barrier(16)
def work():
    kept = np.ones(20_000)  # 160 kB, malloc'd by this thread: glibc gives it an arena
    together.wait()  # every thread alive, holding its arena, at once
    kept.sum()
threads = [threading.Thread(target=work) for _ in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
path = tempfile.mktemp()
out = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, out)
libc.fclose(out)
print(capped, open(path).read().count("<heap nr="))
os.remove(path)
"""


def _arenas(mode: str, **env: str) -> tuple[str, int]:
    import os

    base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", ARENA_COUNT, mode], capture_output=True, text=True, check=True,
                          env=base | env)
    capped, count = done.stdout.split()
    return capped, int(count)


@pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_malloc_arenas_are_capped_unless_the_user_set_the_limit() -> None:
    """glibc's arena count (malloc_info) while 16 threads that allocated are alive: capped at 2 by
    the CLI's start-up call, more without it; a MALLOC_ARENA_MAX the user set is left to glibc."""
    assert _arenas("cap") == ("True", 2)
    _, uncapped = _arenas("default")
    assert uncapped > 2
    assert _arenas("cap", MALLOC_ARENA_MAX="3") == ("False", 3)  # glibc applied the user's own limit
