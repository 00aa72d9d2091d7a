"""Pick the torch device and CPU threads."""

from __future__ import annotations

import torch

from competition.errors import CompError


def resolve_device(choice: str, threads: int = 0) -> str:
    if threads > 0:
        torch.set_num_threads(threads)
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise CompError("--device cuda was asked for, but no CUDA GPU is visible to torch. Use --device cpu or auto.")
    if choice not in ("cpu", "cuda"):
        raise CompError(f"--device must be auto, cpu or cuda; got {choice!r}.")
    return choice
