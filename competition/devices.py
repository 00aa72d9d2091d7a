"""Pick the torch device and CPU threads: the one place every command (train, predict, blend's
members, diagnose) gets its torch thread count from."""

from __future__ import annotations

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
