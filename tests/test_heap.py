"""competition.heap: the long-lived heap is kept out of full collections, then handed back."""

from __future__ import annotations

import gc
import subprocess
import sys

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
        # Not unfrozen by us: that would leave 0. Not `== frozen`: frozen objects that another
        # thread drops meanwhile leave the count (CI once saw 924,115 of 924,117).
        assert gc.get_freeze_count() > frozen // 2
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
