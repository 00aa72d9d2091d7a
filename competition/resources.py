"""Will it fit? An estimate of the batched MLP's memory, checked before any training starts.

The estimate is a lower bound (the input width is taken as the number of raw feature columns;
one-hot and text features only add to it), so a refusal is never a false alarm.
Per parameter the trainer keeps fp32 weights, gradients, AdamW's two moments and a copy of the
best weights (early stopping restore): 5 x 4 = 20 bytes. Activations kept for the written-out
backward pass: about 3 tensors (pre-activation, activation, dropout mask) of batch x hidden per
layer and member, 4 bytes each; plus the input matrices, folds x rows x width x 4 bytes.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from competition.errors import EnvironmentFailure

BYTES_PER_PARAM = 20
ACTIVATION_TENSORS_PER_LAYER = 3


@dataclass(frozen=True)
class MemoryEstimate:
    parameters: int
    """Trainable numbers in all members together."""
    bytes: int


def mlp_memory(width: int, hidden: int, depth: int, members: int, batch_size: int, n_folds: int,
               n_rows: int) -> MemoryEstimate:
    """Lower-bound bytes to train `members` MLPs of `depth` hidden layers of `hidden` units on
    `width` input columns (see the module docstring for the terms)."""
    per_member = width * hidden + hidden + (depth - 1) * (hidden * hidden + hidden) + hidden + 1
    params = per_member * members
    activations = members * batch_size * hidden * depth * ACTIVATION_TENSORS_PER_LAYER * 4
    inputs = n_folds * n_rows * width * 4
    return MemoryEstimate(params, params * BYTES_PER_PARAM + activations + inputs)


def _cgroup_available() -> int | None:
    """Bytes left under this process's cgroup v2 memory limit, if it has one."""
    with contextlib.suppress(OSError, ValueError):
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
            return max(0, int(limit) - used)
    return None


def available_memory(device: str) -> int | None:
    """Bytes that can still be allocated on `device`: free GPU memory for CUDA; for the CPU
    psutil's available memory when installed, else MemAvailable from /proc/meminfo, else
    os.sysconf's free pages; capped by a cgroup limit. None when nothing can be read."""
    if device.startswith("cuda"):
        import torch

        with contextlib.suppress(RuntimeError, AssertionError):
            return int(torch.cuda.mem_get_info(torch.device(device))[0])
        return None
    found: int | None = None
    try:
        import psutil  # type: ignore[import-not-found]

        found = int(psutil.virtual_memory().available)
    except ImportError:
        with contextlib.suppress(OSError, ValueError):
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    found = int(line.split()[1]) * 1024
        if found is None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                found = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    cgroup = _cgroup_available()
    if cgroup is not None:
        found = cgroup if found is None else min(found, cgroup)
    return found


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.1f} TB"


def check_mlp_fits(width: int, mlp: object, members: int, n_folds: int, n_rows: int, device: str,
                   available: int | None = None) -> MemoryEstimate:
    """Raise EnvironmentFailure when the MLP cannot fit in `device`'s available memory.

    `mlp` is an MLPConfig (hidden, depth, batch_size). Returns the estimate when it fits."""
    hidden, depth, batch = int(mlp.hidden), int(mlp.depth), int(mlp.batch_size)  # type: ignore[attr-defined]
    est = mlp_memory(width, hidden, depth, members, batch, n_folds, n_rows)
    free = available_memory(device) if available is None else available
    if free is not None and est.bytes > free:
        raise EnvironmentFailure(
            f"The MLP would need at least {human(est.bytes)} of memory on {device} but only {human(free)} is "
            f"available: {members} members x {est.parameters // max(members, 1):,} parameters "
            f"(mlp.hidden={hidden}, mlp.depth={depth}, >= {width} inputs) at {BYTES_PER_PARAM} bytes each "
            f"(weights, gradients, AdamW moments, best weights) plus activations of mlp.batch_size={batch}. "
            "Lower mlp.hidden, mlp.depth, run.seeds or run.folds."
        )
    return est
